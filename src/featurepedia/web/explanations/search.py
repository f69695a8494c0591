"""Explanation search: by words (full text), by meaning (the sentence-embedding index), or both (hybrid).

``search_explanations`` is what the API's Neuronpedia-compatible explanation-search routes and the search page
call; its items carry every field that Neuronpedia's server or its Python client names.

Totals: full text counts every match. A semantic ranking covers every explanation, so it has no natural
total: ``results_count`` is then the number of results up to and including this page, and ``has_more`` says
whether another page exists (as Neuronpedia's own vector search reports it). Hybrid reports the larger of
the two.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from django.db.models import QuerySet

from featurepedia.errors import UsageError
from featurepedia.search.text import MAX_QUERY_CHARS, clean
from featurepedia.web.catalog.models import Source
from featurepedia.web.explanations import fulltext, search_index
from featurepedia.web.explanations.models import Explanation

Mode = Literal["semantic", "text", "hybrid"]
MODES = ("semantic", "text", "hybrid")
MAX_LIMIT = 100
MAX_OFFSET = 10_000  # deep pages of a ranking are never read by people; they only cost the server
RRF_K = 60  # reciprocal rank fusion's usual constant: rank 1 and rank 10 weigh 61:70, not 10:1


@dataclass
class ExplanationHit:
    """One explanation found, with its feature's coordinates and how well it matched."""

    id: int
    model: str
    source: str
    index: int
    description: str
    method: str
    author: str | None
    explanation_model_name: str
    score: float
    cosine_similarity: float | None = None

    def neuronpedia(self) -> dict[str, Any]:
        """The Neuronpedia field names (its server says ``layer``, its client ``source``: both are sent)."""
        return {"id": str(self.id), "modelId": self.model, "layer": self.source, "source": self.source,
                "index": str(self.index), "description": self.description, "typeName": self.method,
                "explanationModelName": self.explanation_model_name, "author": self.author,
                "score": self.score, "cosine_similarity": self.cosine_similarity}


@dataclass
class SearchResults:
    """A page of explanations, best first, and where the next page starts."""

    results: list[ExplanationHit] = field(default_factory=list)
    results_count: int = 0
    has_more: bool = False
    next_offset: int = 0

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def search_explanations(query: str, model: str | None = None, sources: Sequence[str] | None = None,
                        offset: int = 0, limit: int = 20, mode: Mode = "semantic") -> SearchResults:
    """Find live explanations by words or meaning, optionally within a model and some of its sources.

    Args:
        model: a model slug; sources: source slugs (of ``model`` when given, else of any model).
        mode: "semantic" (by meaning), "text" (by words, stemmed) or "hybrid" (both rankings fused).
    """
    text = _check(query, offset, limit, mode)
    matching = searchable(model, sources)
    if not text:
        return SearchResults(next_offset=offset)
    if mode == "text":
        page, total = fulltext.text_search(matching, text, offset, limit)
        return _results(page, {}, total, offset, limit, has_more=offset + limit < total)
    if mode == "semantic":
        ranked = _semantic(matching, text, model, sources, offset + limit + 1)
        window = ranked[offset:offset + limit]
        sims = {pk: s for pk, s in window}
        return _results(window, sims, offset + len(window), offset, limit, has_more=len(ranked) > offset + limit)
    return _hybrid(matching, text, model, sources, offset, limit)


def searchable(model: str | None = None, sources: Sequence[str] | None = None) -> QuerySet[Explanation]:
    """The explanations a search may show: live, not by a banned player, within the model and sources."""
    qs = Explanation.objects.filter(status=Explanation.Status.LIVE).exclude(author__profile__banned=True)
    if model:
        qs = qs.filter(feature__source__model__slug=model)
    if sources:
        qs = qs.filter(feature__source__slug__in=list(sources))
    return qs


def _check(query: str, offset: int, limit: int, mode: str) -> str:
    if mode not in MODES:
        raise UsageError(f"search mode {mode!r} is unknown; use one of {', '.join(MODES)}")
    if not 1 <= limit <= MAX_LIMIT:
        raise UsageError(f"limit is {limit}; ask for 1 to {MAX_LIMIT} results per page")
    if not 0 <= offset <= MAX_OFFSET:
        raise UsageError(f"offset is {offset}; it must be between 0 and {MAX_OFFSET:,}")
    if len(query) > 10 * MAX_QUERY_CHARS:
        raise UsageError(f"the query is {len(query):,} characters; the limit is {MAX_QUERY_CHARS}")
    return clean(query)


def _semantic(matching: QuerySet[Explanation], text: str, model: str | None, sources: Sequence[str] | None,
              need: int) -> list[tuple[int, float]]:
    """The ``need`` best (id, cosine) by meaning among ``matching``."""
    index = search_index.explanation_index()
    vector = search_index.embed_texts([text])[0]
    source_ids = None
    if model or sources:
        source_ids = list(_sources(model, sources).values_list("pk", flat=True))
        if not source_ids:
            return []
    fetch = need
    while True:
        hits = index.search(vector, fetch, source_ids)
        # The index holds every live explanation; the database has the last word (bans, just-hidden rows).
        shown = set(matching.filter(pk__in=[h.key for h in hits]).values_list("pk", flat=True))
        ranked = [(h.key, h.similarity) for h in hits if h.key in shown]
        if len(ranked) >= need or len(hits) < fetch:
            return ranked[:need]
        fetch *= 2


def _sources(model: str | None, sources: Sequence[str] | None) -> QuerySet[Source]:
    qs = Source.objects.all()
    if model:
        qs = qs.filter(model__slug=model)
    if sources:
        qs = qs.filter(slug__in=list(sources))
    return qs


def _hybrid(matching: QuerySet[Explanation], text: str, model: str | None, sources: Sequence[str] | None,
            offset: int, limit: int) -> SearchResults:
    """Reciprocal rank fusion of the text and semantic rankings (each cut at offset + limit + 1)."""
    need = offset + limit + 1
    by_words, total = fulltext.text_search(matching, text, 0, need)
    by_meaning = _semantic(matching, text, model, sources, need)
    fused: dict[int, float] = {}
    for ranking in (by_words, by_meaning):
        for rank, (pk, _) in enumerate(ranking):
            fused[pk] = fused.get(pk, 0.0) + 1.0 / (RRF_K + rank + 1)
    ordered = sorted(fused.items(), key=lambda item: (-item[1], item[0]))
    window = ordered[offset:offset + limit]
    more = len(ordered) > offset + limit or total > offset + limit
    return _results(window, dict(by_meaning), max(total, offset + len(window)), offset, limit, has_more=more)


def _results(page: list[tuple[int, float]], sims: dict[int, float], total: int, offset: int, limit: int,
             has_more: bool) -> SearchResults:
    rows = (Explanation.objects.filter(pk__in=[pk for pk, _ in page])
            .select_related("feature__source__model", "author").in_bulk())
    items = [_hit(rows[pk], score, sims.get(pk)) for pk, score in page if pk in rows]
    return SearchResults(items, total, has_more, offset + len(page))


def _hit(e: Explanation, score: float, cosine: float | None) -> ExplanationHit:
    source = e.feature.source
    author = e.author.get_username() if e.author is not None else None
    return ExplanationHit(id=e.pk, model=source.model.slug, source=source.slug, index=e.feature.index,
                          description=e.text, method=e.method, author=author,
                          explanation_model_name=explanation_model_name(e.method, e.details, author),
                          score=score, cosine_similarity=cosine)


def explanation_model_name(method: str, details: dict[str, Any], author: str | None) -> str:
    """Who wrote it, as Neuronpedia's ``explanationModelName``: the LLM of an ``llm:<model>`` method, the
    model a method recorded, the person for a human explanation, else the method itself."""
    if method.startswith("llm:"):
        return method.split(":", 1)[1]
    recorded = details.get("model") if isinstance(details, dict) else None
    if isinstance(recorded, str) and recorded:
        return recorded
    if method == "human":
        return author or "human"
    return method
