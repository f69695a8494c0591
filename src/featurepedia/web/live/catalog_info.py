"""What the live pages show from the catalog beside a live result: feature rows, best explanations, the
sources that can be searched."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from django.db.models import Q

from featurepedia.web.catalog.models import Feature, Source
from featurepedia.web.explanations.services import best_explanations


@dataclass(frozen=True)
class Known:
    """A feature as the catalog has it (None fields when it was not built)."""

    max_act: float | None
    explanation: str | None


def known_features(model: str, keys: Iterable[tuple[str, int]]) -> dict[tuple[str, int], Known]:
    """Catalog facts for (source, index) pairs of ``model``, in two queries; unbuilt pairs are left out."""
    wanted = set(keys)
    if not wanted:
        return {}
    match = Q()
    for source, index in wanted:
        match |= Q(source__slug=source, index=index)
    rows = list(Feature.objects.filter(match, source__model__slug=model).values_list("pk", "source__slug", "index",
                                                                                       "max_act"))
    best = best_explanations([pk for pk, *_ in rows])
    return {(source, index): Known(max_act, best[pk].text if pk in best else None)
            for pk, source, index, max_act in rows}


def ready_sources() -> list[Source]:
    """Every built source, by model then source."""
    return list(Source.objects.filter(status=Source.Status.READY).select_related("model")
                .order_by("model__slug", "slug"))
