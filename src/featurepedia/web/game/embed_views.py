"""An embeddable feature card (``/embed/<model>/<source>/<index>``) for other sites' pages.

The card shows what the feature is, its best explanation and a few short clues, and links to its page on
this site. Other sites may frame it: it sends no X-Frame-Options (the content security policy's
``frame-ancestors`` rule for /embed/ lets any site frame it), holds no form, and sets no cookie (it reads
no session, so nothing is stored for the visitor of the other site). Clues with explicit words are left out
unless the address asks for them with ``?explicit=1``, since the site framing the card chose nothing.
"""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404
from django.template.loader import render_to_string
from django.urls import reverse
from django.views.decorators.clickjacking import xframe_options_exempt
from django.views.decorators.http import require_GET

from featurepedia.web.catalog.models import Feature
from featurepedia.web.explanations.services import best_explanations
from featurepedia.web.game.snippets import short_clues

EMBED_CLUES = 3  # with the header and footer, they fit the 420x300 frame of the embed code


@xframe_options_exempt
@require_GET
def feature_card(request: HttpRequest, model: str, source: str, index: int) -> HttpResponse:
    feature = get_object_or_404(Feature.objects.select_related("source__model"),
                                source__model__slug=model, source__slug=source, index=index)
    best = best_explanations([feature.pk]).get(feature.pk)
    page = reverse("feature", args=[model, source, index])
    html = render_to_string("game/embed.html", {
        "feature": feature, "src": feature.source, "best": best,
        "clues": short_clues(feature, hide_explicit=request.GET.get("explicit") != "1", n=EMBED_CLUES),
        "page_url": request.build_absolute_uri(page)})
    response = HttpResponse(html)
    response["Cache-Control"] = "public, max-age=300"
    return response


def embed_code(request: HttpRequest, feature: Feature) -> str:
    """The ``<iframe>`` a site pastes to show ``feature``'s card."""
    src = request.build_absolute_uri(reverse("embed-feature", args=[feature.source.model.slug, feature.source.slug,
                                                                    feature.index]))
    title = f"Featurepedia: {feature.source.model.slug}/{feature.source.slug} {feature.source.feature_noun} {feature.index}"
    return (f'<iframe src="{src}" title="{title}" width="420" height="300" loading="lazy" '
            'style="border:1px solid #ddd;border-radius:8px"></iframe>')
