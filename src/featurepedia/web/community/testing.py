"""A list's test text run through each of its features (live inference, grouped by source: one forward
pass per source), as Neuronpedia's lists do."""

from __future__ import annotations

from dataclasses import dataclass

from django.utils.safestring import SafeString

from featurepedia.errors import FeaturepediaError
from featurepedia.inference.queries import ActivationsQuery
from featurepedia.web.catalog.models import Feature
from featurepedia.web.live import access, display


@dataclass
class Tested:
    feature: Feature
    max_value: float | None = None
    share: float | None = None  # of the feature's max activation in the corpus
    peak: str = ""
    tokens: SafeString | None = None
    error: str = ""


def run_test_text(text: str, features: list[Feature]) -> list[Tested]:
    """One row per feature, in the list's order; a source whose model cannot run says why in its rows."""
    groups: dict[tuple[str, str], list[Feature]] = {}
    for f in features:
        groups.setdefault((f.source.model.slug, f.source.slug), []).append(f)
    done: dict[int, Tested] = {}
    for (model, source), members in groups.items():
        try:
            (result,) = access.client().activations(
                ActivationsQuery(model=model, source=source, indices=[f.index for f in members], texts=[text]))
        except FeaturepediaError as err:
            done.update({f.pk: Tested(f, error=err.message) for f in members})
            continue
        for f, values in zip(members, result.features, strict=True):
            scale = f.max_act if f.max_act > 0 else max(values.max_value, 0.0)
            done[f.pk] = Tested(
                f, max_value=values.max_value, share=values.max_value / f.max_act if f.max_act > 0 else None,
                peak=display.visible(result.tokens[values.max_index].text),
                tokens=display.plain_tokens(result.tokens, values.values, scale, peak=values.max_index))
    return [done[f.pk] for f in features]
