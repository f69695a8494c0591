"""Neuronpedia-compatible live activations: one feature over your texts, or a source's active features.

``POST /api/activation/new`` is what ``neuronpedia``'s ``ActivationRequest.compute_activation_for_text(s)``
calls; ``POST /api/activation/source`` is its ``compute_all_source_activations_for_text``.
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from ninja import Field, Router

from featurepedia.errors import UsageError
from featurepedia.inference.activations import TextActivations
from featurepedia.inference.queries import ActivationsQuery, TopFeaturesQuery
from featurepedia.web.api.live import LiveBody, clean_texts, feature_index, inference
from featurepedia.web.api.live_schemas import LiveActivation, SourceActivations
from featurepedia.web.api.lookup import get_source

router = Router(tags=["Neuronpedia-compatible"])


class FeatureRef(LiveBody):
    modelId: str
    source: str | None = Field(None, description="the source id, e.g. `6-mlp`")
    layer: str | None = Field(None, description="Neuronpedia's name for `source`; either may be given")
    index: int | str = Field(description="the feature's index (a number or a string of digits)")


class NewActivationBody(LiveBody):
    feature: FeatureRef | None = None
    neuron: FeatureRef | None = Field(None, description="an older name for `feature`")
    customText: str | list[str] = Field(description="a text, or a list of texts (one result each)")


class SourceActivationBody(LiveBody):
    modelId: str
    source: str
    customText: str | list[str]


@router.post("/activation/new", response=LiveActivation | list[LiveActivation], summary="A feature's activations on your text",
             description="Per-token activations of one feature over `customText` (BOS first, reported as 0 and "
                         "not counted in the max and min). A string gives one object, a list gives a list.")
def new_activation(request: HttpRequest, body: NewActivationBody) -> Any:
    ref = body.feature or body.neuron
    if ref is None:
        raise UsageError("name the feature: {\"feature\": {\"modelId\": ..., \"source\": ..., \"index\": ...}}")
    source = ref.source or ref.layer
    if not source:
        raise UsageError("feature.source (or feature.layer) is missing; give the source id, e.g. 6-mlp")
    src = get_source(ref.modelId, source)
    index = feature_index(src, ref.index)
    texts = clean_texts(body.customText)
    results = inference().activations(ActivationsQuery(ref.modelId, src.slug, [index], list(texts)))
    shaped = [activation_shape(ref.modelId, src.slug, r) for r in results]
    return shaped[0] if isinstance(body.customText, str) else shaped


def activation_shape(model: str, source: str, result: TextActivations, which: int = 0) -> dict[str, object]:
    f = result.features[which]
    return {"modelId": model, "layer": source, "source": source, "index": f.index, "tokens": result.token_strings,
            "tokenIds": result.token_ids, "values": f.values, "maxValue": f.max_value,
            "maxValueTokenIndex": f.max_index, "minValue": f.min_value, "minValueTokenIndex": f.min_index}


@router.post("/activation/source", response=SourceActivations, summary="The active features of a source on your text",
             description="For each text, its tokens and the source's most active features (up to 100, strongest "
                         "first, BOS ignored), each with its per-token values.")
def source_activations(request: HttpRequest, body: SourceActivationBody) -> dict[str, object]:
    src = get_source(body.modelId, body.source)
    client = inference()
    results = []
    for text in clean_texts(body.customText):
        found = client.top_features(TopFeaturesQuery(body.modelId, [src.slug], text, num_results=100))
        results.append({"tokens": [t.text for t in found.tokens], "activeFeatures": [
            {"modelId": body.modelId, "layer": f.source_id, "source": f.source_id, "index": f.index,
             "values": f.values, "maxValue": f.max_value, "maxValueTokenIndex": f.max_index}
            for f in found.features]})
    return {"results": results}

