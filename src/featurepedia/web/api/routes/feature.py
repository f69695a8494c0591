"""Neuronpedia-compatible reads: ``GET /api/feature/{model}/{source}/{index}``.

The live routes (activations, search, top-k by token, steering) join as routers of their own beside this one.
"""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from ninja import Router

from featurepedia.web.api.lookup import get_feature
from featurepedia.web.api.neuronpedia import NpFeature, feature_shape
from featurepedia.web.catalog import pagecache
from featurepedia.web.game import activity

router = Router(tags=["Neuronpedia-compatible"])


@router.get("/feature/{model}/{source}/{index}", response=NpFeature, summary="Get a feature",
            description="A feature with its statistics, stored activation examples and visible explanations, in "
                        "Neuronpedia's shape (what `neuronpedia`'s `FeatureRequest.get` reads). `source` is what "
                        "Neuronpedia calls the layer, e.g. `6-mlp`.")
def get_feature_route(request: HttpRequest, model: str, source: str, index: int) -> HttpResponse:
    # The same for everyone until the source is rebuilt or the feature's explanations, scores, votes or
    # their authors change (the activity stamp): kept whole, JSON encoded and compressed once.
    feature = get_feature(model, source, index)

    def render() -> HttpResponse:
        from featurepedia.web.api.app import api  # the API object imports this router

        shape = NpFeature.model_validate(feature_shape(feature)).model_dump()
        return api.create_response(request, shape, status=200)

    return pagecache.cached_response(request, "api-feature", (feature.pk, feature.source.updated.isoformat(),
                                                               *activity.stamp(feature.pk)), render)

