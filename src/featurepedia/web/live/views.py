"""The live pages: a feature on your own text (with token attribution), search by text, steering.

Each view sends a query to the process's inference client (``access.client()``) and renders the answer.
A FeaturepediaError (text too long, unknown feature, queue full) is shown in the page as its message.
Partials that htmx swaps in answer 200 even then, because htmx swaps only 2xx answers; full pages answer
with the error's status.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from featurepedia.errors import FeaturepediaError
from featurepedia.inference.limits import DEFAULT_LIMITS
from featurepedia.inference.queries import ActivationsQuery, AttributionQuery, TopFeaturesQuery
from featurepedia.inference.service import QueueFullError
from featurepedia.web.catalog.models import Feature, LanguageModel
from featurepedia.web.live import access, display
from featurepedia.web.live.catalog_info import known_features, ready_sources
from featurepedia.web.live.settings_form import SteerSettings, canonical_query, features_param, parse_settings

T = TypeVar("T")
SEARCH_RESULTS = 20
TOPK_PER_TOKEN = 5
LIMITS = {"max_chars": DEFAULT_LIMITS.max_chars, "max_new_tokens": DEFAULT_LIMITS.max_new_tokens}


class Failed(Exception):
    """A FeaturepediaError caught in a view, kept to render its message."""

    def __init__(self, error: FeaturepediaError) -> None:
        super().__init__(error.message)
        self.error = error


def _attempt(compute: Callable[[], T]) -> T:
    try:
        return compute()
    except FeaturepediaError as error:
        raise Failed(error) from error


def _error_page(request: HttpRequest, template: str, context: dict[str, Any], failed: Failed,
                partial: bool) -> HttpResponse:
    response = render(request, template, {**context, "error": failed.error.message},
                      status=200 if partial else failed.error.status)
    if isinstance(failed.error, QueueFullError):
        response["Retry-After"] = str(failed.error.retry_after)
    return response


def _feature(model: str, source: str, index: int) -> Feature:
    return get_object_or_404(Feature.objects.select_related("source__model"), source__model__slug=model,
                             source__slug=source, index=index)


def _text(request: HttpRequest) -> str:
    return request.POST.get("text", "").replace("\r\n", "\n")


@require_POST
def test_text(request: HttpRequest, model: str, source: str, index: int) -> HttpResponse:
    """The feature's activations over the visitor's text, shaded relative to its max activation."""
    feature = _feature(model, source, index)
    text = _text(request)
    context: dict[str, Any] = {"feature": feature, "text": text}
    try:
        (result,) = _attempt(lambda: access.client().activations(
            ActivationsQuery(model=model, source=source, indices=[index], texts=[text])))
    except Failed as failed:
        return _error_page(request, "live/_activations.html", context, failed, partial=True)
    values = result.features[0]
    scale = feature.max_act if feature.max_act > 0 else max(values.max_value, 0.0)
    context.update(tokens=display.token_buttons(result.tokens, values.values, scale), values=values,
                   peak=display.visible(result.tokens[values.max_index].text),
                   share=values.max_value / feature.max_act if feature.max_act > 0 else None)
    return render(request, "live/_activations.html", context)


@require_POST
def attribution(request: HttpRequest, model: str, source: str, index: int) -> HttpResponse:
    """How much each earlier token moves the feature's activation at the clicked token (ablation)."""
    feature = _feature(model, source, index)
    text = _text(request)
    context: dict[str, Any] = {"feature": feature}
    try:
        target = int(request.POST.get("target", ""))
        result = _attempt(lambda: access.client().attribution(
            AttributionQuery(model=model, source=source, index=index, text=text, target=target)))
    except ValueError:
        return render(request, "live/_attribution.html", {**context, "error": "Click a token of the text above."})
    except Failed as failed:
        return _error_page(request, "live/_attribution.html", context, failed, partial=True)
    context.update(result=result, target_token=display.visible(result.tokens[target].text),
                   tokens=display.attribution_spans(result.tokens, result.attributions, target),
                   top=display.top_contributions(result.tokens, result.attributions))
    return render(request, "live/_attribution.html", context)


def _search_scope(request: HttpRequest) -> tuple[dict[str, Any], list[str]]:
    """The search form's choices and values, and the sources to search (empty: nothing valid chosen)."""
    sources = ready_sources()
    models = sorted({s.model.slug for s in sources})
    params = request.GET if request.method == "GET" else request.POST
    model = params.get("model") or (models[0] if models else "")
    chosen = params.get("source") or "all"
    of_model = [s.slug for s in sources if s.model.slug == model]
    form = {"models": models, "sources": sources, "model": model, "source": chosen,
            "text": params.get("text", "").replace("\r\n", "\n"), "density": params.get("density", "").strip()}
    return form, of_model if chosen == "all" else [chosen] if chosen in of_model else []


def _density(raw: str) -> float | None:
    """The density filter (a percentage in the form) as a fraction; blank: none."""
    if not raw:
        return None
    try:
        return float(raw) / 100
    except ValueError:
        raise Failed(FeaturepediaError(f"the density filter is {raw!r}; give a percentage such as 1, or leave it "
                                       "blank")) from None


def _top_features(form: dict[str, Any], sources: list[str], num_results: int,
                  positions: list[int] | None = None) -> Any:
    if not form["models"]:
        raise Failed(FeaturepediaError("no source is built yet; build one with `featurepedia build`"))
    if not sources:
        raise Failed(FeaturepediaError(f"{form['source']!r} is not a built source of {form['model']}; choose one "
                                       "from the list"))
    threshold = _density(form["density"])
    exclude = {s: access.dense_features(form["model"], s, threshold) for s in sources}
    query = TopFeaturesQuery(model=form["model"], sources=sources, text=form["text"], num_results=num_results,
                             sort_indexes=positions, exclude={s: ids for s, ids in exclude.items() if ids})
    return _attempt(lambda: access.client().top_features(query))


def _found(model: str, result: Any) -> list[dict[str, Any]]:
    """Each found feature with what the catalog knows of it and its values shaded on the text."""
    known = known_features(model, [(f.source_id, f.index) for f in result.features])
    rows = []
    for f in result.features:
        info = known.get((f.source_id, f.index))
        scale = info.max_act if info and info.max_act else f.max_value
        rows.append({"feature": f, "known": info, "peak": display.visible(result.tokens[f.max_index].text),
                     "tokens": display.plain_tokens(result.tokens, f.values, scale, peak=f.max_index)})
    return rows


@require_GET
def search(request: HttpRequest) -> HttpResponse:
    """Type a text, see the features of a source (or of all a model's sources) that fire most on it."""
    form, sources = _search_scope(request)
    context: dict[str, Any] = {"form": form, "limits": LIMITS}
    if not form["text"]:
        return render(request, "live/search.html", context)
    try:
        result = _top_features(form, sources, SEARCH_RESULTS)
    except Failed as failed:
        return _error_page(request, "live/search.html", context, failed, partial=False)
    context.update(result=result, rows=_found(form["model"], result),
                   tokens=display.token_buttons(result.tokens, [0.0] * len(result.tokens), 0.0))
    return render(request, "live/search.html", context)


@require_POST
def search_token(request: HttpRequest) -> HttpResponse:
    """The top features at one token of the searched text (the search's source or sources)."""
    form, sources = _search_scope(request)
    context: dict[str, Any] = {"form": form}
    try:
        position = int(request.POST.get("target", ""))
        result = _top_features(form, sources, TOPK_PER_TOKEN, positions=[position])
    except ValueError:
        return render(request, "live/_topk.html", {**context, "error": "Click a token of the text."})
    except Failed as failed:
        return _error_page(request, "live/_topk.html", context, failed, partial=True)
    known = known_features(form["model"], [(f.source_id, f.index) for f in result.features])
    context.update(token=display.visible(result.tokens[position].text), position=position,
                   rows=[{"feature": f, "value": f.values[position], "known": known.get((f.source_id, f.index))}
                         for f in result.features])
    return render(request, "live/_topk.html", context)


@require_GET
def steer(request: HttpRequest) -> HttpResponse:
    """Steered and default generations side by side; the address holds every setting (the share link)."""
    canonical = canonical_query(request.GET)
    if canonical is not None:
        return redirect(f"{reverse('steer')}?{canonical}")
    models = list(LanguageModel.objects.filter(sources__status="ready").distinct().order_by("slug")
                  .values_list("slug", flat=True))
    context: dict[str, Any] = {"models": models, "limits": LIMITS}
    try:
        settings = parse_settings(request.GET)
    except FeaturepediaError as error:
        # The form shows the defaults again; the message says which value was wrong.
        context.update(settings=SteerSettings(model=request.GET.get("model", ""), prompt=request.GET.get("prompt", "")),
                       error=error.message)
        return render(request, "live/steer.html", _steer_context(context), status=error.status)
    settings.model = settings.model or (models[0] if models else "")
    context["settings"] = settings
    if settings.prompt:
        if not settings.features:
            context["error"] = "Add a feature to steer with: its source, index and strength."
            return render(request, "live/steer.html", _steer_context(context), status=400)
        try:
            context["result"] = _attempt(lambda: access.client().steer(settings.query()))
        except Failed as failed:
            return _error_page(request, "live/steer.html", _steer_context(context), failed, partial=False)
    return render(request, "live/steer.html", _steer_context(context))


def _steer_context(context: dict[str, Any]) -> dict[str, Any]:
    settings = context["settings"]
    known = known_features(settings.model, [(f.source, f.index) for f in settings.features])
    context["rows"] = [{"feature": f, "known": known.get((f.source, f.index))} for f in settings.features]
    context["sources"] = [s.slug for s in ready_sources() if s.model.slug == settings.model]
    context["features_param"] = features_param(settings.features)
    return context
