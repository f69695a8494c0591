"""Export a source's or a campaign's human data and scores as Parquet files or a Hugging Face ``datasets``
folder, each with a data card (README.md).

Rows are read from the database in id order, so an export of the same data is the same files. People are
named by :mod:`people` (display name or anonymous id): no e-mail, user name or password is ever exported.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
from django.db.models import QuerySet
from django.utils import timezone

from featurepedia.errors import NotFoundError, UsageError
from featurepedia.web.catalog.bundles import find_source
from featurepedia.web.catalog.models import ActivationExample, Feature, Source
from featurepedia.web.data_io.card import write_card
from featurepedia.web.data_io.people import People
from featurepedia.web.data_io.tables import TABLES
from featurepedia.web.explanations.models import Explanation, ExplanationScore, Vote
from featurepedia.web.game.models import Campaign, Comparison, OddOneAnswer, Prediction

FORMATS = ("parquet", "hf")
DEFAULT_LICENSE = "cc-by-4.0"


@dataclass
class ExportScope:
    """What is exported: the features (of one source, or of a campaign) and how it is named."""

    title: str
    features: QuerySet[Feature]
    sources: list[Source]
    campaign: Campaign | None = None
    include_hidden: bool = False


@dataclass
class ExportResult:
    folder: Path
    format: str
    counts: dict[str, int] = field(default_factory=dict)


def scope_for_source(ref: str, include_hidden: bool = False) -> ExportScope:
    """The scope of ``MODEL/SOURCE`` (e.g. ``gpt2-small/6-mlp``)."""
    model, _, slug = ref.partition("/")
    if not model or not slug:
        raise UsageError(f"--source {ref!r} is not MODEL/SOURCE; give e.g. --source smollm2-135m/6-mlp")
    source = find_source(model, slug)
    return ExportScope(title=str(source), features=Feature.objects.filter(source=source), sources=[source],
                       include_hidden=include_hidden)


def scope_for_campaign(slug: str, include_hidden: bool = False) -> ExportScope:
    """The scope of a campaign: its features (its list, or its whole source)."""
    try:
        campaign = Campaign.objects.get(slug=slug)
    except Campaign.DoesNotExist:
        stored = ", ".join(Campaign.objects.values_list("slug", flat=True)) or "none"
        raise NotFoundError(f"no campaign {slug!r}; stored campaigns: {stored}") from None
    features = campaign.feature_queryset()
    sources = list(Source.objects.select_related("model").filter(features__in=features).distinct())
    return ExportScope(title=f"campaign {campaign.slug} ({campaign.title})", features=features,
                       sources=sources, campaign=campaign, include_hidden=include_hidden)


def export_data(scope: ExportScope, out: Path, fmt: str = "parquet", license: str = DEFAULT_LICENSE) -> ExportResult:
    """Write the scope's tables to ``out`` (a new or empty folder) with a data card.

    Args:
        fmt: ``parquet`` (one ``<table>.parquet`` per table beside README.md; ``datasets.load_dataset(out,
            "<table>")`` reads one) or ``hf`` (``DatasetDict.save_to_disk``, one split per table;
            ``datasets.load_from_disk(out)`` reads it back).
        license: the license id written in the card (a Hugging Face license id, e.g. cc-by-4.0, cc0-1.0).
    """
    if fmt not in FORMATS:
        raise UsageError(f"unknown format {fmt!r}; give one of: {', '.join(FORMATS)}")
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise UsageError(f"{out} exists and is not an empty folder; give a new folder to export into")
    tables = build_tables(scope)
    out.mkdir(parents=True, exist_ok=True)
    if fmt == "parquet":
        for name, table in tables.items():
            pq.write_table(table, out / f"{name}.parquet")
    else:
        _save_hf(tables, out)
    counts = {name: t.num_rows for name, t in tables.items()}
    write_card(out, scope, counts, fmt, license, made=timezone.now())
    return ExportResult(folder=out, format=fmt, counts=counts)


def _save_hf(tables: dict[str, pa.Table], out: Path) -> None:
    from datasets import Dataset, DatasetDict
    from datasets.table import InMemoryTable

    DatasetDict({name: Dataset(InMemoryTable(t)) for name, t in tables.items()}).save_to_disk(str(out))


def build_tables(scope: ExportScope) -> dict[str, pa.Table]:
    """Every exported table of the scope as an Arrow table, rows in id order."""
    people = People()
    features = scope.features
    explanations = Explanation.objects.filter(feature__in=features).select_related("feature__source__model")
    if not scope.include_hidden:
        explanations = explanations.exclude(status=Explanation.Status.HIDDEN)
    shown = explanations.values("pk")
    rows: dict[str, Iterable[dict[str, Any]]] = {
        "explanations": (_explanation(e, people) for e in explanations.order_by("pk")),
        "votes": (_vote(v, people) for v in Vote.objects.filter(explanation__in=shown)
                  .select_related("explanation__feature__source__model").order_by("pk")),
        "comparisons": (_comparison(c, people) for c in _played(Comparison.objects.filter(
            feature__in=features, first__in=shown, second__in=shown), scope)),
        "odd_one_answers": (_odd_one(a, people) for a in _played(
            OddOneAnswer.objects.filter(feature__in=features).select_related("round"), scope)),
        "predictions": _predictions(_played(Prediction.objects.filter(
            feature__in=features, explanation__in=shown).select_related("daily"), scope), people),
        "scores": (_score(s) for s in ExplanationScore.objects.filter(explanation__in=shown)
                   .select_related("explanation__feature__source__model").order_by("pk")),
    }
    return {spec.name: pa.Table.from_pylist(list(rows[spec.name]), schema=spec.schema) for spec in TABLES}


def utc(moment: datetime) -> datetime:
    """A stored time as exported: in UTC, written without a zone (every exported time is UTC)."""
    return moment.astimezone(UTC).replace(tzinfo=None)


def _played(qs: QuerySet[Any], scope: ExportScope) -> QuerySet[Any]:
    """Answers on the scope's features (a campaign's export: those played in that campaign)."""
    if scope.campaign is not None:
        qs = qs.filter(campaign=scope.campaign)
    return qs.select_related("feature__source__model", "campaign").order_by("pk")


def _where(feature: Feature) -> dict[str, Any]:
    return {"source": str(feature.source), "feature_index": feature.index}


def _explanation(e: Explanation, people: People) -> dict[str, Any]:
    return {"explanation_id": e.pk, **_where(e.feature), "text": e.text, "method": e.method,
            "author": people.of(e.author_id) if e.method == "human" else "", "status": e.status,
            "created": utc(e.created)}


def _vote(v: Vote, people: People) -> dict[str, Any]:
    return {"explanation_id": v.explanation_id, **_where(v.explanation.feature), "player": people.of(v.user_id),
            "value": v.value, "created": utc(v.created)}


def _campaign(row: Any) -> str:
    return row.campaign.slug if row.campaign is not None else ""


def _comparison(c: Comparison, people: People) -> dict[str, Any]:
    return {"comparison_id": c.pk, **_where(c.feature), "first_explanation_id": c.first_id,
            "second_explanation_id": c.second_id, "choice": c.choice, "player": people.of(c.user_id, c.visitor),
            "campaign": _campaign(c), "created": utc(c.created)}


def _odd_one(a: OddOneAnswer, people: People) -> dict[str, Any]:
    snippets = [{"tokens": list(s.get("tokens", [])), "mark": int(s.get("mark", 0))} for s in a.round.snippets]
    return {"answer_id": a.pk, **_where(a.feature), "round_id": a.round_id, "snippets": snippets,
            "odd": a.round.odd, "intruder": a.round.intruder, "pick": a.pick, "found": a.found,
            "player": people.of(a.user_id, a.visitor), "campaign": _campaign(a), "created": utc(a.created)}


def _predictions(qs: QuerySet[Prediction], people: People) -> list[dict[str, Any]]:
    rows = list(qs)
    ids = {ref["example"] for p in rows for ref in p.texts if isinstance(ref, dict) and "example" in ref}
    tokens = dict(ActivationExample.objects.filter(pk__in=ids).values_list("pk", "tokens"))
    return [{"prediction_id": p.pk, "explanation_id": p.explanation_id, **_where(p.feature),
             "tokens": [_shown(tokens.get(ref.get("example")), ref) for ref in p.texts],
             "marks": p.marks, "truth": p.truth, "score": p.score,
             "daily": p.daily.date.isoformat() if p.daily is not None else "",
             "player": people.of(p.user_id, p.visitor), "campaign": _campaign(p), "created": utc(p.created)}
            for p in rows]


def _shown(tokens: list[str] | None, ref: dict[str, Any]) -> list[str]:
    """The tokens of a text shown in Predict (empty if its example was since rebuilt away)."""
    if tokens is None:
        return []
    start = int(ref.get("start", 0))
    return list(tokens[start:start + int(ref.get("length", len(tokens)))])


def _score(s: ExplanationScore) -> dict[str, Any]:
    return {"explanation_id": s.explanation_id, **_where(s.explanation.feature), "scorer": s.scorer,
            "version": s.version, "value": s.value, "status": s.status,
            "details": json.dumps(s.details, sort_keys=True), "created": utc(s.created)}
