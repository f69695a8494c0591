"""Neuronpedia's explanation search: by meaning (our offline sentence-embedding index), by words, or both.

``POST /api/explanation/search`` (a model and some of its sources), ``/search-model`` (one model) and
``/search-all`` (everything). Neuronpedia's own needs OpenAI embeddings and pgvector; ours runs offline
(web/explanations/search.py). Request and answer use Neuronpedia's field names; ``mode`` and ``limit`` are
ours (default: semantic, 20 a page, as Neuronpedia pages them).
"""

from __future__ import annotations

from typing import Any, Literal

from django.http import HttpRequest
from ninja import Field, Router, Schema

from featurepedia.web.api.live import clean_text
from featurepedia.web.api.lookup import get_model, get_source
from featurepedia.web.explanations.search import MAX_LIMIT, MAX_OFFSET, search_explanations

router = Router(tags=["Neuronpedia-compatible"])


class ExplanationSearchBody(Schema):
    query: str = Field(description="what the explanations should say, in words")
    offset: int = Field(0, ge=0, le=MAX_OFFSET, description="results to skip (the previous answer's nextOffset)")
    limit: int = Field(20, ge=1, le=MAX_LIMIT, description="results per page")
    mode: Literal["semantic", "text", "hybrid"] = Field(
        "semantic", description="semantic: by meaning; text: by words (stemmed); hybrid: both rankings fused")


class ModelExplanationSearchBody(ExplanationSearchBody):
    modelId: str


class LayersExplanationSearchBody(ModelExplanationSearchBody):
    layers: list[str] = Field(default_factory=list, description="source ids of the model, e.g. [\"6-mlp\"]; "
                              "empty: all of them")


class ExplanationSearchHit(Schema):
    id: str
    modelId: str
    layer: str
    source: str
    index: str
    description: str
    typeName: str
    explanationModelName: str
    author: str | None
    score: float
    cosine_similarity: float | None


class ExplanationSearchOut(Schema):
    request: dict[str, Any]
    results: list[ExplanationSearchHit]
    resultsCount: int
    hasMore: bool
    nextOffset: int


def _answer(body: ExplanationSearchBody, model: str | None, layers: list[str] | None) -> dict[str, Any]:
    found = search_explanations(clean_text(body.query, "query"), model=model, sources=layers or None,
                                offset=body.offset, limit=body.limit, mode=body.mode)
    return {"request": body.dict(), "results": [hit.neuronpedia() for hit in found.results],
            "resultsCount": found.results_count, "hasMore": found.has_more, "nextOffset": found.next_offset}


@router.post("/explanation/search", response=ExplanationSearchOut, summary="Search explanations of some sources")
def search_layers(request: HttpRequest, body: LayersExplanationSearchBody) -> dict[str, Any]:
    for layer in body.layers:
        get_source(body.modelId, layer)  # an unknown source is a 404 naming the stored ones
    get_model(body.modelId)
    return _answer(body, body.modelId, body.layers)


@router.post("/explanation/search-model", response=ExplanationSearchOut, summary="Search explanations of a model")
def search_model(request: HttpRequest, body: ModelExplanationSearchBody) -> dict[str, Any]:
    get_model(body.modelId)
    return _answer(body, body.modelId, None)


@router.post("/explanation/search-all", response=ExplanationSearchOut, summary="Search all explanations")
def search_all(request: HttpRequest, body: ExplanationSearchBody) -> dict[str, Any]:
    return _answer(body, None, None)
