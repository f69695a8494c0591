"""Catalog pages: models, sources and feature dashboards, from the database only.

What the apps built on the catalog show on these pages (the game, explanations) comes through
``extensions``: their panels and text filters, registered when they start.
"""

from __future__ import annotations

import random
from collections.abc import Callable

from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render

from featurepedia.web.catalog.display import example_groups, histogram_svg
from featurepedia.web.catalog.extensions import hidden_text
from featurepedia.web.catalog.models import Feature, LanguageModel, Source

FEATURES_PER_PAGE = 50


def home(request: HttpRequest) -> HttpResponse:
    """The panels of the apps on top (what this is, how to play, campaigns, players), then the sources."""
    sources = Source.objects.select_related("model").order_by("model__slug", "slug")
    return render(request, "catalog/home.html", {"sources": sources})


def model_page(request: HttpRequest, model: str) -> HttpResponse:
    lm = get_object_or_404(LanguageModel, slug=model)
    return render(request, "catalog/model.html", {"lm": lm, "sources": lm.sources.all()})


def source_page(request: HttpRequest, model: str, source: str) -> HttpResponse:
    src = get_object_or_404(Source.objects.select_related("model"), model__slug=model, slug=source)
    jump = request.GET.get("index", "").strip()
    if jump:
        if jump.isdigit() and int(jump) < src.n_features:
            return redirect("feature", model=model, source=source, index=int(jump))
        return render(request, "catalog/source.html", _source_context(src, request, status=400,
                      error=f"'{jump}' is not a feature index; use a whole number from 0 to {src.n_features - 1}"),
                      status=400)
    return render(request, "catalog/source.html", _source_context(src, request))


def _source_context(src: Source, request: HttpRequest, status: int = 200, error: str = "") -> dict:
    features = src.features.order_by("index").only("index", "max_act", "density", "top_logits")
    page = Paginator(features, FEATURES_PER_PAGE).get_page(request.GET.get("page"))
    hide = hidden_text(request)
    for feature in page.object_list:
        feature.shown_top = shown_logits(feature.top_logits[:5], hide)
    return {"src": src, "page": page, "error": error}


def random_feature(request: HttpRequest, model: str, source: str) -> HttpResponse:
    src = get_object_or_404(Source, model__slug=model, slug=source)
    count = src.features.count()
    if not count:
        raise Http404("this source has no features yet")
    index = src.features.order_by("index").values_list("index", flat=True)[random.randrange(count)]
    return redirect("feature", model=model, source=source, index=index)


def feature_page(request: HttpRequest, model: str, source: str, index: int) -> HttpResponse:
    feature = get_object_or_404(Feature.objects.select_related("source__model"),
                                source__model__slug=model, source__slug=source, index=index)
    src = feature.source
    hide = hidden_text(request)
    examples = list(feature.examples.all())
    hidden = 0
    if hide is not None:
        kept = [e for e in examples if not hide("".join(e.tokens))]
        hidden, examples = len(examples) - len(kept), kept
    neighbours = [{"index": int(i), "cosine": c} for i, c in feature.neighbours]
    return render(request, "catalog/feature.html", {
        "feature": feature, "src": src,
        "top_logits": shown_logits(feature.top_logits, hide),
        "bottom_logits": shown_logits(feature.bottom_logits, hide),
        "groups": example_groups(examples, feature.max_act, src.first_shown),
        "histogram": histogram_svg(feature.hist_counts, feature.hist_lo, feature.hist_hi, feature.max_act),
        "neighbours": neighbours,
        "prev_index": index - 1 if index > 0 else None,
        "next_index": index + 1 if index + 1 < src.n_features else None,
        "density_pct": feature.density * 100,
        "hidden_explicit": hidden,
    })


def shown_logits(pairs: list, hide: Callable[[str], bool] | None) -> list[dict]:
    """A feature's [[token, value], ...] logit list for display; tokens a text filter hides are masked
    (not dropped, so the ranking stays readable)."""
    return [{"token": str(token), "value": value, "hidden": hide is not None and hide(str(token))}
            for token, value in pairs]
