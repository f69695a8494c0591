"""What the live routes share: the inference client, request checks, catalog lookups, feature summaries.

Models load only in the inference service (in-process or a `featurepedia inference` process); the routes
check what they can against the catalog first (model, source, index range), so a typo is a 404 that lists
what exists, and the service's own checks (text length, counts, ranges) arrive as its 400s.
"""

from __future__ import annotations

from collections.abc import Iterable

from ninja import Schema
from pydantic import ConfigDict

from featurepedia.errors import UsageError
from featurepedia.inference.client import InferenceClient
from featurepedia.inference.limits import DEFAULT_LIMITS, check_count
from featurepedia.web.api.lookup import check_index, get_model, get_source
from featurepedia.web.catalog.models import Feature, Source
from featurepedia.web.explanations.services import best_explanations
from featurepedia.web.live import access


class LiveBody(Schema):
    """Request bodies of the live routes: Python's json accepts NaN and Infinity, these refuse them."""

    model_config = ConfigDict(allow_inf_nan=False)


def inference() -> InferenceClient:
    return access.client()


def clean_text(text: str, what: str = "the text") -> str:
    """A text a model may read: no NUL, no lone surrogate (JSON's \\ud800 escapes are not Unicode text).
    Emptiness and length are the service's checks (its messages state its limits)."""
    for i, ch in enumerate(text):
        if ch == "\x00":
            raise UsageError(f"{what} holds a NUL character (U+0000) at character {i}; remove it")
        if "\ud800" <= ch <= "\udfff":
            raise UsageError(f"{what} holds a lone surrogate (U+{ord(ch):04X}) at character {i}, which is not "
                             "valid Unicode; send the text as UTF-8")
    return text


def clean_texts(texts: str | list[str], what: str = "customText") -> list[str]:
    if isinstance(texts, str):
        return [clean_text(texts, what)]
    if not texts:
        raise UsageError(f"{what} is an empty list; give one text or a list of texts")
    # Routes that send one query per text (searches) rely on this cap; the service caps the others too.
    check_count(f"the number of texts in {what}", len(texts), DEFAULT_LIMITS.max_texts)
    return [clean_text(t, f"{what}[{i}]") for i, t in enumerate(texts)]


def feature_index(src: Source, index: int | str) -> int:
    """A feature index (Neuronpedia's client sends it as a string), checked against the source's size."""
    if isinstance(index, str):
        if not index.strip().lstrip("-").isdigit():
            raise UsageError(f"feature index must be an integer; got {index!r}")
        index = int(index)
    check_index(src, index)
    return index


def sources_of(model: str, chosen: Iterable[str], source_set: str | None = None) -> list[Source]:
    """The sources named (each checked), or with none named all built sources of the model (only those of
    ``source_set``, e.g. ``mlp`` for ``6-mlp``, when given)."""
    names = list(dict.fromkeys(chosen))
    if names:
        return [get_source(model, name) for name in names]
    lm = get_model(model)
    built = [s for s in lm.sources.filter(status=Source.Status.READY).order_by("slug")
             if not source_set or s.slug.partition("-")[2] == source_set]
    if not built:
        which = f" in source set {source_set!r}" if source_set else ""
        raise UsageError(f"model {model!r} has no built source{which} to search; name sources in selectedLayers "
                         f"(GET /api/models/{model}/sources lists them)")
    return built


def excluded(model: str, source: str, threshold: float | None) -> list[int]:
    """Features left out for ``densityThreshold``: 0 or negative (the client's defaults, -1 and 0) and >= 1
    filter nothing, as on Neuronpedia."""
    if threshold is None or threshold <= 0:
        return []
    return access.dense_features(model, source, threshold)


def feature_summaries(model: str, keys: Iterable[tuple[str, int]]) -> dict[tuple[str, int], dict[str, object]]:
    """For (source, index) pairs, Neuronpedia's short feature object with the best explanation (only the
    features whose dashboards are stored; two queries whatever the number of features)."""
    wanted = set(keys)
    if not wanted:
        return {}
    rows = list(Feature.objects.filter(source__model__slug=model, source__slug__in={s for s, _ in wanted},
                                       index__in={i for _, i in wanted}).select_related("source"))
    rows = [f for f in rows if (f.source.slug, f.index) in wanted]
    best = best_explanations([f.pk for f in rows])
    out: dict[tuple[str, int], dict[str, object]] = {}
    for f in rows:
        ids = {"modelId": model, "layer": f.source.slug, "source": f.source.slug, "index": f.index}
        e = best.get(f.pk)
        out[(f.source.slug, f.index)] = {
            **ids, "frac_nonzero": f.density, "maxActApprox": f.max_act,
            "explanations": [] if e is None else [{**ids, "id": str(e.pk), "description": e.text,
                                                   "typeName": e.method.partition(":")[0]}],
        }
    return out
