"""Default game content, created by `featurepedia demo`."""

from __future__ import annotations

from featurepedia.web.catalog.models import Source
from featurepedia.web.game.models import Campaign

DEFAULT_SLUG = "smollm2-layer-6"


def ensure_default_campaign(model_slug: str = "smollm2-135m", source_slug: str = "6-mlp") -> Campaign | None:
    """Create (once) the campaign "Explain layer 6 of SmolLM2" over the given source; None if it is not built."""
    source = Source.objects.filter(model__slug=model_slug, slug=source_slug).select_related("model").first()
    if source is None:
        return None
    layer = source_slug.split("-")[0]
    is_default = (model_slug, source_slug) == ("smollm2-135m", "6-mlp")
    slug = DEFAULT_SLUG if is_default else f"{model_slug}-{source_slug}"[:80]
    title = "Explain layer 6 of SmolLM2" if is_default else f"Explain {source_slug} of {model_slug}"
    campaign, _ = Campaign.objects.get_or_create(slug=slug, defaults={
        "title": title, "source": source,
        "description": f"What do the {source.n_features:,} neurons of layer {layer} of {model_slug} respond to? "
                       "Look at the clues, then vote for the best explanation or write a better one."})
    return campaign
