"""The map page of a source (``/<model>/<source>/map``): its features laid out by decoder direction,
coloured by density or by best score, with each one's best explanation on hover and its page on click."""

from __future__ import annotations

import math

from django.core.cache import cache
from django.db.models import Max, Q
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.views.decorators.http import require_GET

from featurepedia.web.catalog.models import Feature, Source, SourceMap
from featurepedia.web.explanations.models import ExplanationScore
from featurepedia.web.explanations.scoring import DEFAULT_SCORER
from featurepedia.web.explanations.services import best_explanations

DATA_CACHE_SECONDS = 60  # explanations and scores change the colours and labels; a minute behind is fine


def _source(model: str, source: str) -> Source:
    return get_object_or_404(Source.objects.select_related("model"), model__slug=model, slug=source)


@require_GET
def map_page(request: HttpRequest, model: str, source: str) -> HttpResponse:
    src = _source(model, source)
    stored = SourceMap.objects.filter(source=src).only("params", "created").first()
    return render(request, "explanations/map.html", {
        "src": src, "stored": stored,
        "data_url": reverse("source-map-data", args=[model, source]),
        "feature_base": reverse("source", args=[model, source])})


@require_GET
def map_data(request: HttpRequest, model: str, source: str) -> JsonResponse:
    """Points as [index, x, y, density, best score or null] and labels {index: best explanation}."""
    src = _source(model, source)
    stored = SourceMap.objects.filter(source=src).first()
    if stored is None:
        return JsonResponse({"ok": False, "error": f"{model}/{source} has no map yet; make it with "
                                                   f"`featurepedia map --model {model} --source {source}`",
                             "status": 404}, status=404)
    key = f"featuremap:{src.pk}:{stored.created.timestamp()}"
    body = cache.get(key)
    if body is None:
        body = _data(src, stored)
        cache.set(key, body, DATA_CACHE_SECONDS)
    return JsonResponse(body)


def _data(src: Source, stored: SourceMap) -> dict[str, object]:
    features = dict(Feature.objects.filter(source=src).values_list("index", "density"))
    ids = dict(Feature.objects.filter(source=src).values_list("pk", "index"))
    best_score = dict(Feature.objects.filter(source=src).annotate(best=Max("explanations__scores__value", filter=(
        Q(explanations__scores__scorer=DEFAULT_SCORER)
        & Q(explanations__scores__status=ExplanationScore.Status.OK)
        & Q(explanations__status="live")))).values_list("index", "best"))
    labels = {ids[fid]: e.text for fid, e in best_explanations(list(ids)).items()}
    points = []
    for index, (x, y) in enumerate(zip(stored.x, stored.y, strict=True)):
        if index not in features:
            continue  # a feature the build did not store
        density = features[index]
        score = best_score.get(index)
        points.append([index, x, y, round(density, 6) if density is not None and math.isfinite(density) else None,
                       round(score, 4) if score is not None else None])
    return {"model": src.model.slug, "source": src.slug, "noun": src.feature_noun, "scorer": DEFAULT_SCORER,
            "params": stored.params, "points": points, "labels": {str(k): v for k, v in labels.items()}}
