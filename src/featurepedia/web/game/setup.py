"""Default game content, created by `featurepedia demo`."""

from __future__ import annotations

from collections.abc import Sequence

from featurepedia.settings import DEFAULT_MODEL_ID, DEFAULT_SOURCE_ID, get_settings
from featurepedia.web.catalog.models import Feature, Source
from featurepedia.web.game.models import Campaign

DEFAULT_SLUG = "smollm2-layer-6"


def ensure_default_campaign(model_slug: str | None = None, source_slug: str | None = None,
                            also: Sequence[str] = ()) -> Campaign | None:
    """Create (once) the campaign over a built source; None if it is not built.

    Args:
        model_slug, source_slug: default to the ``default_model`` and ``default_source`` settings.
        also: ids of more sources of the model (the demo's SAEs) whose features join the campaign once they
            are fully built; a later call with the same ones changes nothing.
    """
    model_slug = model_slug or get_settings().default_model
    source_slug = source_slug or get_settings().default_source
    source = Source.objects.filter(model__slug=model_slug, slug=source_slug).select_related("model").first()
    if source is None:
        return None
    slug, title = _identity(model_slug, source_slug)
    campaign, _ = Campaign.objects.get_or_create(slug=slug, defaults={
        "title": title, "source": source, "description": default_description(model_slug, [source])})
    extra = [s for s in Source.objects.filter(model=source.model, slug__in=also, status=Source.Status.READY)
             .exclude(pk=source.pk).order_by("slug") if s.features.count() == s.n_features]
    if extra:
        include_sources(campaign, extra)
    return campaign


def default_campaign(model_slug: str, source_slug: str) -> Campaign | None:
    """The campaign ensure_default_campaign made for this source, if it has made it."""
    return Campaign.objects.filter(slug=_identity(model_slug, source_slug)[0]).first()


def _identity(model_slug: str, source_slug: str) -> tuple[str, str]:
    """The default campaign's slug and title."""
    # Its title names SmolLM2's layer 6, so only the embedded model's default source gets it.
    if (model_slug, source_slug) == (DEFAULT_MODEL_ID, DEFAULT_SOURCE_ID):
        return DEFAULT_SLUG, "Explain layer 6 of SmolLM2"
    return f"{model_slug}-{source_slug}"[:80], f"Explain {source_slug} of {model_slug}"


def include_sources(campaign: Campaign, sources: Sequence[Source]) -> int:
    """Add every feature of ``sources`` to the campaign; returns how many joined.

    A campaign with no picked features holds its whole source, so that source's features are picked first
    (it keeps them); a hand-picked list stays as it is, plus the new sources' features. A description the
    campaign was created with is rewritten to name every source's features.
    """
    through = Campaign.features.through
    picked = through.objects.filter(campaign=campaign)
    wanted = Feature.objects.filter(source__in=list(sources))
    if campaign.source_id is not None and not picked.exists():
        wanted = Feature.objects.filter(source__in=[campaign.source_id, *[s.pk for s in sources]])
    have = set(picked.values_list("feature_id", flat=True))
    new = [through(campaign_id=campaign.pk, feature_id=pk)
           for pk in wanted.values_list("pk", flat=True).iterator() if pk not in have]
    through.objects.bulk_create(new, batch_size=2000)
    if campaign.source is not None:
        own = campaign.source
        if campaign.description == default_description(own.model.slug, [own]):
            campaign.description = default_description(own.model.slug, [own, *sources])
            campaign.save(update_fields=["description"])
    return len(new)


def default_description(model_slug: str, sources: Sequence[Source]) -> str:
    """The demo campaign's invitation, naming each source's features: "What do the 1,536 neurons and the
    4,608 SAE features of layer 6 of smollm2-135m respond to? ..." (the first source's layer)."""
    layer = sources[0].slug.split("-")[0]
    kinds = " and the ".join(f"{s.n_features:,} {s.feature_noun_plural}" for s in sources)
    return (f"What do the {kinds} of layer {layer} of {model_slug} respond to? "
            "Look at the clues, then vote for the best explanation or write a better one.")
