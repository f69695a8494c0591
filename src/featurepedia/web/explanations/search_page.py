"""The explanation search page, /search/explanations/: what features do, found by meaning, by words or both.

A plain GET form, so every search (query, mode, filters, page) is a shareable address and works without
JavaScript or an account. It calls :func:`~featurepedia.web.explanations.search.search_explanations`, the
engine of the API's ``/api/explanation/search*`` routes. Bad input is a message in the page with the
error's status (400), never a crash; a search engine this site lacks (full text on a database without
it, the sentence-embedding model not installed) is a 503 page that says so and links the other mode.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_GET

from featurepedia.errors import FeaturepediaError, UnavailableError, UsageError
from featurepedia.search.text import MAX_QUERY_CHARS, clean
from featurepedia.web.catalog.models import LanguageModel, Source
from featurepedia.web.explanations import fulltext
from featurepedia.web.explanations.models import Explanation, ExplanationScore
from featurepedia.web.explanations.presenting import author_label
from featurepedia.web.explanations.scoring import DEFAULT_SCORER
from featurepedia.web.explanations.search import (
    MAX_OFFSET,
    MODES,
    ExplanationHit,
    SearchResults,
    search_explanations,
)

PAGE_SIZE = 20
MODE_LABELS = {"semantic": "By meaning", "text": "By words", "hybrid": "Both"}
MODE_NAMES = {"semantic": "by meaning", "text": "by words", "hybrid": "by meaning and words"}
_SHOWN = 60  # characters of a wrong value repeated in a message
_LISTED = 20  # names listed in a "no such ..." message


@dataclass
class Row:
    """One result as the page shows it."""

    hit: ExplanationHit
    feature_url: str
    author: str
    score: float | None


def _shown(value: str) -> str:
    return repr(value if len(value) <= _SHOWN else value[:_SHOWN] + "…")


def _names(names: list[str]) -> str:
    more = f" and {len(names) - _LISTED} more" if len(names) > _LISTED else ""
    return ", ".join(names[:_LISTED]) + more if names else "none yet"


def _offset(raw: str) -> int:
    """The offset parameter (blank: the first page); its range is the search's own check."""
    if not raw.strip():
        return 0
    try:
        return int(raw)
    except ValueError:
        raise UsageError(f"offset is {_shown(raw)}; it must be a whole number from 0 to {MAX_OFFSET:,} "
                         "(the “More” link sets it)") from None


def _check_scope(model: str, source: str) -> None:
    """Raise for a model or source filter this site does not hold, naming the ones it does."""
    if model and not LanguageModel.objects.filter(slug=model).exists():
        names = list(LanguageModel.objects.order_by("slug").values_list("slug", flat=True))
        raise UsageError(f"there is no model {_shown(model)} here; choose one of: {_names(names)} (or any model)")
    if not source:
        return
    sources = Source.objects.filter(slug=source)
    if model:
        sources = sources.filter(model__slug=model)
    if sources.exists():
        return
    if model:
        names = list(Source.objects.filter(model__slug=model).order_by("slug").values_list("slug", flat=True))
        raise UsageError(f"model {model!r} has no source {_shown(source)}; its sources: {_names(names)} "
                         "(or any source)")
    names = [f"{m}/{s}" for m, s in Source.objects.order_by("model__slug", "slug").values_list("model__slug", "slug")]
    raise UsageError(f"no model has a source {_shown(source)}; sources here: {_names(names)} (or any source)")


def _check_query(query: str) -> None:
    # The search itself cuts a query to MAX_QUERY_CHARS; a shared address would then search other words
    # than it shows, so the page refuses instead.
    if len(query) > MAX_QUERY_CHARS:
        raise UsageError(f"the query is {len(query):,} characters; the limit is {MAX_QUERY_CHARS}. Search with "
                         "a few words or a short sentence")


def other_mode(mode: str) -> str:
    """The mode to suggest when ``mode`` is unavailable: the engine that does not share its failure."""
    if mode == "text":
        return "semantic"
    if mode == "semantic":
        return "text"
    return "semantic" if not fulltext.available() else "text"


def _rows(found: SearchResults) -> list[Row]:
    """The hits with who wrote each and its default score (two queries for the page)."""
    pks = [hit.id for hit in found.results]
    rows = Explanation.objects.filter(pk__in=pks).select_related("author__profile").in_bulk()
    scores = dict(ExplanationScore.objects.filter(explanation_id__in=pks, scorer=DEFAULT_SCORER,
                                                  status=ExplanationScore.Status.OK)
                  .values_list("explanation_id", "value"))
    return [Row(hit, reverse("feature", args=[hit.model, hit.source, hit.index]),
                author_label(rows[hit.id]) if hit.id in rows else hit.explanation_model_name, scores.get(hit.id))
            for hit in found.results]


def _address(params: dict[str, Any], **changes: Any) -> str:
    """This page's address with some parameters changed (empty ones and offset 0 left out)."""
    merged = {**params, **changes}
    kept = {k: v for k, v in merged.items() if v not in ("", None) and not (k == "offset" and v == 0)}
    return f"{reverse('explanation-search')}?{urlencode(kept)}"


def _form(request: HttpRequest) -> dict[str, Any]:
    get = request.GET
    mode = get.get("mode") or "semantic"
    model, source = get.get("model", "").strip(), get.get("source", "").strip()
    return {"q": get.get("q", ""), "mode": mode, "model": model, "source": source, "offset": get.get("offset", ""),
            "models": list(LanguageModel.objects.order_by("slug").values_list("slug", flat=True)),
            "source_groups": _source_groups(model, source), "modes": [(m, MODE_LABELS[m]) for m in MODES],
            "max_chars": MAX_QUERY_CHARS}


def _source_groups(model: str, source: str) -> list[tuple[str, list[tuple[str, bool]]]]:
    """The source choices by model, as (model, [(source, selected)]); one option at most is selected."""
    groups: dict[str, list[tuple[str, bool]]] = {}
    chosen = False
    for model_slug, slug in Source.objects.order_by("model__slug", "slug").values_list("model__slug", "slug"):
        selected = not chosen and slug == source and model in ("", model_slug)
        chosen = chosen or selected
        groups.setdefault(model_slug, []).append((slug, selected))
    return list(groups.items())


@require_GET
def explanation_search(request: HttpRequest) -> HttpResponse:
    """Search the live explanations: a query box, a mode, optional model and source filters, pages of 20."""
    form = _form(request)
    context: dict[str, Any] = {"form": form, "mode_name": MODE_NAMES.get(form["mode"], form["mode"]),
                               "scorer": DEFAULT_SCORER}
    if not clean(form["q"]):
        return render(request, "explanations/search.html", {**context, "help": True})
    params = {"q": form["q"], "mode": form["mode"], "model": form["model"], "source": form["source"]}
    try:
        _check_query(form["q"])
        offset = _offset(form["offset"])
        _check_scope(form["model"], form["source"])
        found = search_explanations(form["q"], model=form["model"] or None,
                                    sources=[form["source"]] if form["source"] else None,
                                    offset=offset, limit=PAGE_SIZE, mode=form["mode"])
    except UnavailableError as error:
        instead = other_mode(form["mode"])
        context.update(unavailable=error.message, instead=MODE_NAMES[instead],
                       instead_url=_address(params, mode=instead))
        return render(request, "explanations/search.html", context, status=error.status)
    except FeaturepediaError as error:
        context["error"] = error.message
        return render(request, "explanations/search.html", context, status=error.status)
    context.update(found=found, rows=_rows(found), first=offset + 1, last=offset + len(found.results),
                   total=found.results_count if form["mode"] == "text" else None,
                   more_url=_address(params, offset=found.next_offset) if found.has_more else None,
                   previous_url=_address(params, offset=max(0, offset - PAGE_SIZE)) if offset > 0 else None,
                   by_meaning_url=_address(params, mode="semantic"))
    return render(request, "explanations/search.html", context)
