"""Catalog pages: models, sources and feature dashboards, from the database only."""

from __future__ import annotations

import random

from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render

from featurepedia.web.catalog.display import example_groups, histogram_svg
from featurepedia.web.catalog.models import Feature, LanguageModel, Source
from featurepedia.web.explanations.limits import explanations_allowance
from featurepedia.web.explanations.presenting import shown_explanations
from featurepedia.web.explanations.views import KEPT_TEXT
from featurepedia.web.game.explicit import is_explicit, tokens_explicit
from featurepedia.web.game.leaderboard import leaderboard
from featurepedia.web.game.models import Campaign
from featurepedia.web.game.prefs import get_prefs
from featurepedia.web.game.puzzles import campaign_progress

FEATURES_PER_PAGE = 50


def home(request: HttpRequest) -> HttpResponse:
    """What this is, how to play (one click to a first puzzle), running campaigns, top players, sources."""
    sources = Source.objects.select_related("model").order_by("model__slug", "slug")
    campaigns = [(c, campaign_progress(c)) for c in Campaign.running().select_related("source__model")[:6]]
    return render(request, "catalog/home.html", {
        "sources": sources, "campaigns": campaigns, "top_players": leaderboard("all", limit=5),
        "week_players": leaderboard("week", limit=5)})


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
    hide = get_prefs(request).explicit_filter
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
    prefs = get_prefs(request)
    examples = list(feature.examples.all())
    hidden = 0
    if prefs.explicit_filter:
        kept = [e for e in examples if not tokens_explicit(e.tokens)]
        hidden, examples = len(examples) - len(kept), kept
    method = request.GET.get("method", "") if prefs.advanced_mode else ""
    kept_text = request.session.get(KEPT_TEXT, {}).get(str(feature.pk), "")
    neighbours = [{"index": int(i), "cosine": c} for i, c in feature.neighbours]
    return render(request, "catalog/feature.html", {
        "feature": feature, "src": src,
        "top_logits": shown_logits(feature.top_logits, prefs.explicit_filter),
        "bottom_logits": shown_logits(feature.bottom_logits, prefs.explicit_filter),
        "groups": example_groups(examples, feature.max_act, src.first_shown),
        "histogram": histogram_svg(feature.hist_counts, feature.hist_lo, feature.hist_hi, feature.max_act),
        "neighbours": neighbours,
        "prev_index": index - 1 if index > 0 else None,
        "next_index": index + 1 if index + 1 < src.n_features else None,
        "density_pct": feature.density * 100,
        "hidden_explicit": hidden, "prefs": prefs,
        "explanations": shown_explanations(request, feature, method), "kept_text": kept_text,
        "campaigns": feature_campaigns(feature),
        "allowance": explanations_allowance(request.user) if request.user.is_authenticated else None,
        "next": request.get_full_path(),
    })


def shown_logits(pairs: list, hide_explicit: bool) -> list[dict]:
    """A feature's [[token, value], ...] logit list for display; explicit tokens are masked (not dropped,
    so the ranking stays readable) for players who asked for the filter."""
    return [{"token": str(token), "value": value, "hidden": hide_explicit and is_explicit(str(token))}
            for token, value in pairs]


def feature_campaigns(feature: Feature) -> list[Campaign]:
    """Running campaigns this feature belongs to (so its page can offer "play it")."""
    return [c for c in Campaign.running() if c.feature_queryset().filter(pk=feature.pk).exists()]
