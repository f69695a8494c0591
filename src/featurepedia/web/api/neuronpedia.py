"""Neuronpedia's response shapes, built from our models.

Field names are Neuronpedia's (camelCase and their database's snake_case as they send them). Their server
calls a source ``layer``, while their Python client reads ``source`` inside activations and explanations,
so both are sent. Indices are numbers (their database keeps them as strings; the client converts).
"""

from __future__ import annotations

from ninja import Field, Schema

from featurepedia.web.catalog.models import ActivationExample, Feature
from featurepedia.web.explanations.models import Explanation, ExplanationScore
from featurepedia.web.explanations.presenting import author_label
from featurepedia.web.explanations.services import visible


class NpActivation(Schema):
    id: str
    modelId: str
    layer: str
    source: str
    index: int
    tokens: list[str]
    values: list[float]
    maxValue: float
    minValue: float
    maxValueTokenIndex: int
    binMin: float | None = Field(description="lowest context maximum in this example's group")
    binMax: float | None = Field(description="highest context maximum in this example's group")
    binContains: float | None = Field(description="share of the sampled active contexts in a quantile group")
    bin: str = Field(description="ours: top, q0..q9 (q9 strongest) or negative")
    rank: int = Field(description="ours: position within its group, 0 first")


class NpScore(Schema):
    id: str
    value: float | None
    explanationScoreTypeName: str = Field(description="the scorer")
    explanationScoreModelName: str = Field(description="the scorer's version")
    status: str = Field(description="ours: ok, pending or failed")


class NpExplanation(Schema):
    id: str
    modelId: str
    layer: str
    source: str
    index: int
    description: str
    typeName: str = Field(description="how it was made: human, token-list, llm, ...")
    explanationModelName: str | None = Field(description="the language model that wrote it, if one did")
    scores: list[NpScore]
    author: str = Field(description="ours: a person's name, or the method")
    ups: int
    downs: int


class NpFeature(Schema):
    modelId: str
    layer: str
    source: str
    index: int
    hookName: str
    frac_nonzero: float = Field(description="fraction of tokens where the feature is active")
    maxActApprox: float
    minActApprox: float
    pos_str: list[str] = Field(description="tokens whose logits the feature raises most")
    pos_values: list[float]
    neg_str: list[str] = Field(description="tokens whose logits it lowers most")
    neg_values: list[float]
    freq_hist_data_bar_heights: list[float] = Field(description="activation histogram: counts")
    freq_hist_data_bar_values: list[float] = Field(description="activation histogram: bin centres")
    logits_hist_data_bar_heights: list[float] = Field(description="not computed here: always empty")
    logits_hist_data_bar_values: list[float]
    topkCosSimIndices: list[int] = Field(description="nearest features by decoder cosine similarity")
    topkCosSimValues: list[float]
    activations: list[NpActivation]
    explanations: list[NpExplanation]


def feature_shape(feature: Feature) -> dict[str, object]:
    """A feature with its stored examples and visible explanations, as Neuronpedia's ``/api/feature`` sends it."""
    src = feature.source
    ids = {"modelId": src.model.slug, "layer": src.slug, "source": src.slug, "index": feature.index}
    heights, centres = _histogram(feature)
    return {
        **ids, "hookName": src.hook_name, "frac_nonzero": feature.density, "maxActApprox": feature.max_act,
        "minActApprox": feature.min_act,
        "pos_str": [str(t) for t, _ in feature.top_logits], "pos_values": [v for _, v in feature.top_logits],
        "neg_str": [str(t) for t, _ in feature.bottom_logits], "neg_values": [v for _, v in feature.bottom_logits],
        "freq_hist_data_bar_heights": heights, "freq_hist_data_bar_values": centres,
        "logits_hist_data_bar_heights": [], "logits_hist_data_bar_values": [],
        "topkCosSimIndices": [int(i) for i, _ in feature.neighbours],
        "topkCosSimValues": [c for _, c in feature.neighbours],
        "activations": activations_shape(list(feature.examples.all()), ids),
        "explanations": [explanation_shape(e, ids) for e in visible(feature)],
    }


def _histogram(feature: Feature) -> tuple[list[float], list[float]]:
    """Counts and bin centres of the stored histogram, from its first to its last non-empty bin."""
    counts = feature.hist_counts
    used = [i for i, c in enumerate(counts) if c]
    if not used or feature.hist_hi <= feature.hist_lo:
        return [], []
    step = (feature.hist_hi - feature.hist_lo) / len(counts)
    span = range(used[0], used[-1] + 1)
    return [float(counts[i]) for i in span], [float(f"{feature.hist_lo + (i + 0.5) * step:.6g}") for i in span]


def _bin_order(name: str) -> tuple[int, int]:
    """The feature page's order: top, then quantile groups strongest first, then non-activating."""
    if name == "top":
        return 0, 0
    if name.startswith("q") and name[1:].isdigit():
        return 1, -int(name[1:])
    return 2, 0


def activations_shape(examples: list[ActivationExample], ids: dict[str, object]) -> list[dict[str, object]]:
    groups: dict[str, list[ActivationExample]] = {}
    for e in sorted(examples, key=lambda e: (_bin_order(e.bin), e.rank)):
        groups.setdefault(e.bin, []).append(e)
    n_quantiles = sum(1 for name in groups if _bin_order(name)[0] == 1)
    shaped = []
    for name, group in groups.items():
        maxima = [e.max_value for e in group]
        # Quantile groups cut the sampled active contexts into equal parts (dashboards/finalize.py).
        contains = 1.0 / n_quantiles if _bin_order(name)[0] == 1 else None
        for e in group:
            shaped.append({
                "id": str(e.pk), **ids, "tokens": [str(t) for t in e.tokens], "values": list(e.values),
                "maxValue": e.max_value, "minValue": min(e.values, default=0.0), "maxValueTokenIndex": e.max_index,
                "binMin": min(maxima), "binMax": max(maxima), "binContains": contains, "bin": e.bin, "rank": e.rank,
            })
    return shaped


def explanation_shape(e: Explanation, ids: dict[str, object]) -> dict[str, object]:
    """An explanation from ``services.visible`` (it carries vote tallies) in Neuronpedia's shape."""
    kind, _, language_model = e.method.partition(":")
    return {
        "id": str(e.pk), **ids, "description": e.text, "typeName": kind,
        "explanationModelName": language_model or None, "scores": [score_shape(s) for s in e.scores.all()],
        "author": author_label(e), "ups": getattr(e, "ups", 0), "downs": getattr(e, "downs", 0),
    }


def score_shape(s: ExplanationScore) -> dict[str, object]:
    return {"id": str(s.pk), "value": s.value, "explanationScoreTypeName": s.scorer,
            "explanationScoreModelName": s.version, "status": s.status}
