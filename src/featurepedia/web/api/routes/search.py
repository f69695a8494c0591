"""Neuronpedia-compatible search by text: the top features over sources, and the top k at each token.

``POST /api/search-all`` is what ``neuronpedia``'s ``SourceActivationRequest.compute_top_features_for_text(s)``
calls; ``POST /api/search-topk-by-token`` is its ``TopKByTokenRequest``. A list of texts (the clients'
``..._for_texts``) gives ``{"results": [one answer per text]}``.
"""

from __future__ import annotations

from django.http import HttpRequest
from ninja import Field, Router

from featurepedia.inference.queries import TopFeaturesQuery, TopKQuery
from featurepedia.inference.top_features import TopFeatures, TopKByToken
from featurepedia.web.api.live import (
    LiveBody,
    clean_texts,
    excluded,
    feature_summaries,
    inference,
    sources_of,
)
from featurepedia.web.api.live_schemas import SearchResult, SearchResults, TopKResult, TopKResults
from featurepedia.web.api.lookup import get_source

router = Router(tags=["Neuronpedia-compatible"])

DENSITY = ("leave out features active on more than this fraction of tokens (stored density); 0, negative or "
           ">= 1: leave out none")


class SearchAllBody(LiveBody):
    modelId: str
    sourceSet: str | None = Field(None, description="with no selectedLayers: search only this set (`mlp` for "
                                                    "`6-mlp`)")
    text: str | list[str]
    selectedLayers: list[str] = Field(default_factory=list, description="source ids to search; empty: every "
                                                                        "built source of the model")
    sortIndexes: list[int] = Field(default_factory=list, description="token positions to rank by (0 = BOS); "
                                                                     "empty: every position")
    ignoreBos: bool = True
    densityThreshold: float | None = Field(None, description=DENSITY)
    numResults: int = Field(20, ge=1, le=100)


class TopKBody(LiveBody):
    modelId: str
    source: str
    text: str | list[str]
    numResults: int = Field(5, ge=1, le=20, description="features per token")
    ignoreBos: bool = True
    densityThreshold: float | None = Field(None, description=DENSITY)


@router.post("/search-all", response=SearchResult | SearchResults, summary="The top features of a text",
             description="The features that fire most on `text`, over the chosen sources ranked together (a "
                         "feature's score is its largest activation over `sortIndexes`), each with its values at "
                         "every token and, when its dashboard is stored, its best explanation (`neuron`).")
def search_all(request: HttpRequest, body: SearchAllBody) -> dict[str, object]:
    sources = [s.slug for s in sources_of(body.modelId, body.selectedLayers, body.sourceSet)]
    exclude = {s: dense for s in sources if (dense := excluded(body.modelId, s, body.densityThreshold))}
    client = inference()
    answers = []
    for text in clean_texts(body.text, "text"):
        found = client.top_features(TopFeaturesQuery(
            body.modelId, sources, text, num_results=body.numResults, sort_indexes=body.sortIndexes or None,
            ignore_bos=body.ignoreBos, exclude=exclude))
        answers.append(_search_shape(body.modelId, found))
    return answers[0] if isinstance(body.text, str) else {"results": answers}


def _search_shape(model: str, found: TopFeatures) -> dict[str, object]:
    known = feature_summaries(model, [(f.source_id, f.index) for f in found.features])
    return {"tokens": [t.text for t in found.tokens], "sortIndexes": found.sort_indexes, "result": [
        {"modelId": model, "layer": f.source_id, "source": f.source_id, "index": f.index, "values": f.values,
         "maxValue": f.max_value, "maxValueIndex": f.max_index, "neuron": known.get((f.source_id, f.index))}
        for f in found.features]}


@router.post("/search-topk-by-token", response=TopKResult | TopKResults, summary="The top features at each token",
             description="At each token of `text` (BOS left out with `ignoreBos`), the `numResults` features of "
                         "`source` with the highest activation there.")
def topk_by_token(request: HttpRequest, body: TopKBody) -> dict[str, object]:
    src = get_source(body.modelId, body.source)
    exclude = excluded(body.modelId, src.slug, body.densityThreshold)
    client = inference()
    answers = [_topk_shape(body.modelId, client.topk_by_token(TopKQuery(
        body.modelId, src.slug, text, k=body.numResults, ignore_bos=body.ignoreBos, exclude=exclude)))
        for text in clean_texts(body.text, "text")]
    return answers[0] if isinstance(body.text, str) else {"source": src.slug, "results": answers}


def _topk_shape(model: str, found: TopKByToken) -> dict[str, object]:
    known = feature_summaries(model, [(found.source_id, i) for p in found.positions for i, _ in p.features])
    return {"source": found.source_id, "tokens": [t.text for t in found.tokens], "results": [
        {"position": p.position, "token": p.token.text, "isSpecial": p.is_special, "topFeatures": [
            {"featureIndex": i, "activationValue": v, "feature": known.get((found.source_id, i))}
            for i, v in p.features]}
        for p in found.positions]}
