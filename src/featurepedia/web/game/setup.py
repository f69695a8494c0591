"""Default game content, created by `featurepedia demo`."""

from __future__ import annotations

from featurepedia.settings import DEFAULT_MODEL_ID, DEFAULT_SOURCE_ID, get_settings
from featurepedia.web.catalog.models import Source
from featurepedia.web.game.models import Campaign

DEFAULT_SLUG = "smollm2-layer-6"


def ensure_default_campaign(model_slug: str | None = None, source_slug: str | None = None) -> Campaign | None:
    """Create (once) the campaign over a built source; None if it is not built.

    Args:
        model_slug, source_slug: default to the ``default_model`` and ``default_source`` settings.
    """
    model_slug = model_slug or get_settings().default_model
    source_slug = source_slug or get_settings().default_source
    source = Source.objects.filter(model__slug=model_slug, slug=source_slug).select_related("model").first()
    if source is None:
        return None
    layer = source_slug.split("-")[0]
    # Its title names SmolLM2's layer 6, so only the embedded model's default source gets it.
    is_default = (model_slug, source_slug) == (DEFAULT_MODEL_ID, DEFAULT_SOURCE_ID)
    slug = DEFAULT_SLUG if is_default else f"{model_slug}-{source_slug}"[:80]
    title = "Explain layer 6 of SmolLM2" if is_default else f"Explain {source_slug} of {model_slug}"
    campaign, _ = Campaign.objects.get_or_create(slug=slug, defaults={
        "title": title, "source": source,
        "description": f"What do the {source.n_features:,} neurons of layer {layer} of {model_slug} respond to? "
                       "Look at the clues, then vote for the best explanation or write a better one."})
    return campaign
