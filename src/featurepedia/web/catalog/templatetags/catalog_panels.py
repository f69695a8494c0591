"""``{% panels "slot" %}``: the panels other apps registered for a slot of a catalog page."""

from __future__ import annotations

from django import template
from django.template.context import Context
from django.utils.safestring import SafeString, mark_safe

from featurepedia.web.catalog import extensions

register = template.Library()


@register.simple_tag(takes_context=True)
def panels(context: Context, slot: str) -> SafeString:
    """Each panel of the slot, rendered with the page's context plus its own (as an include would be)."""
    request = context["request"]
    engine = context.template.engine if context.template is not None else template.engines["django"].engine
    parts = []
    for panel in extensions.panels(slot):
        own = panel.context(request, context.flatten())
        with context.push(**own):
            parts.append(engine.get_template(panel.template).render(context))
    return mark_safe("".join(parts))  # each part was rendered by a template, with autoescaping
