"""Neuronpedia-compatible reads: ``GET /api/feature/{model}/{source}/{index}``.

The live routes (activations, search, top-k by token, steering) join as routers of their own beside this one.
"""

from __future__ import annotations

from django.http import HttpRequest
from ninja import Router

from featurepedia.web.api.lookup import get_feature
from featurepedia.web.api.neuronpedia import NpFeature, feature_shape

router = Router(tags=["Neuronpedia-compatible"])


@router.get("/feature/{model}/{source}/{index}", response=NpFeature, summary="Get a feature",
            description="A feature with its statistics, stored activation examples and visible explanations, in "
                        "Neuronpedia's shape (what `neuronpedia`'s `FeatureRequest.get` reads). `source` is what "
                        "Neuronpedia calls the layer, e.g. `6-mlp`.")
def get_feature_route(request: HttpRequest, model: str, source: str, index: int) -> dict[str, object]:
    return feature_shape(get_feature(model, source, index))
