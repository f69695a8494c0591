"""Catalog pages: models, sources and feature dashboards, from the database only.

What the apps built on the catalog show on these pages (the game, explanations) comes through
``extensions``: their panels and text filters, registered when they start.
"""

from __future__ import annotations

import random
from collections.abc import Callable

from django.core.paginator import Paginator
from django.db import connection
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.template.loader import render_to_string

from featurepedia.web.catalog import pagecache
from featurepedia.web.catalog.display import example_groups, histogram_svg
from featurepedia.web.catalog.extensions import active_text_filters, combined, feature_stamps, hidden_text
from featurepedia.web.catalog.models import ActivationExample, Feature, LanguageModel, Source

FEATURES_PER_PAGE = 50
_INDEX = Feature._meta.get_field("index").column


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
    """A feature's dashboard: the panels of other apps (per visitor), then its clues and statistics (the same
    for everyone with the same text filters, so cached). Only the first group of clues is in the page; the
    others load when opened (``?groups=all`` puts them all in, for browsers without scripts)."""
    feature = get_object_or_404(Feature.objects.select_related("source__model"),
                                source__model__slug=model, source__slug=source, index=index)
    src = feature.source

    filters = active_text_filters(request)
    every_group = request.GET.get("groups") == "all"
    dashboard = pagecache.cached_html(
        "feature", (feature.pk, src.updated.isoformat(), sorted(filters), every_group),
        lambda: render_to_string("catalog/_dashboard.html", _dashboard_context(feature, filters, every_group)))
    return render(request, "catalog/feature.html", {
        "feature": feature, "src": src, "dashboard": dashboard,
        "prev_index": index - 1 if index > 0 else None,
        "next_index": index + 1 if index + 1 < src.n_features else None,
    })


def shared_feature_page(model: str, source: str, index: int) -> tuple | None:
    """What a feature page shows a first-time visitor depends on (pagecache.SharedPageMiddleware keeps the
    whole page while these stay the same): the source's build, and every app's stamp of the feature."""
    f, s, m = Feature._meta.db_table, Source._meta.db_table, LanguageModel._meta.db_table
    with connection.cursor() as cursor:  # plain SQL: this is most of what serving a shared page costs
        cursor.execute(f"SELECT f.id, f.source_id, s.updated, s.n_features FROM {f} f JOIN {s} s ON s.id = f.source_id "
                       f"JOIN {m} m ON m.id = s.model_id WHERE m.slug = %s AND s.slug = %s AND f.{connection.ops.quote_name(_INDEX)} = %s",
                       [model, source, index])
        row = cursor.fetchone()
    if row is None:
        return None
    pk, source_id, updated, n_features = row
    return (pk, str(updated), n_features, *feature_stamps(Feature(pk=pk, source_id=source_id, index=index)))


def feature_group(request: HttpRequest, model: str, source: str, index: int, group: str) -> HttpResponse:
    """One group of a feature's clues as list items (what a feature page loads when the group is opened)."""
    feature = get_object_or_404(Feature.objects.select_related("source__model"),
                                source__model__slug=model, source__slug=source, index=index)
    filters = active_text_filters(request)

    def items() -> str:
        found = [g for g in example_groups(_shown_examples(feature, filters)[0], feature.max_act,
                                           feature.source.first_shown) if g.key == group]
        if not found:
            raise Http404(f"feature {index} has no group of examples '{group}'")
        return render_to_string("catalog/_group.html", {"g": found[0]})

    return HttpResponse(pagecache.cached_html("feature-group", (feature.pk, feature.source.updated.isoformat(),
                                                            sorted(filters), group), items))


def _shown_examples(feature: Feature, filters: dict) -> tuple[list[ActivationExample], int]:
    """The feature's examples minus those a text filter hides, and how many were hidden."""
    examples = list(feature.examples.all())
    hide = combined(filters)
    if hide is None:
        return examples, 0
    kept = [e for e in examples if not hide("".join(e.tokens))]
    return kept, len(examples) - len(kept)


def _dashboard_context(feature: Feature, filters: dict, every_group: bool) -> dict:
    src = feature.source
    hide = combined(filters)
    examples, hidden = _shown_examples(feature, filters)
    groups = example_groups(examples, feature.max_act, src.first_shown, lazy=not every_group)
    return {
        "feature": feature, "src": src,
        "top_logits": shown_logits(feature.top_logits, hide),
        "bottom_logits": shown_logits(feature.bottom_logits, hide),
        "groups": groups,
        "histogram": histogram_svg(feature.hist_counts, feature.hist_lo, feature.hist_hi, feature.max_act),
        "neighbours": [{"index": int(i), "cosine": c} for i, c in feature.neighbours],
        "density_pct": feature.density * 100,
        "hidden_explicit": hidden,
    }


def shown_logits(pairs: list, hide: Callable[[str], bool] | None) -> list[dict]:
    """A feature's [[token, value], ...] logit list for display; tokens a text filter hides are masked
    (not dropped, so the ranking stays readable)."""
    return [{"token": str(token), "value": value, "hidden": hide is not None and hide(str(token))}
            for token, value in pairs]
