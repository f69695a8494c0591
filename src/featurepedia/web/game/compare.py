"""People against machines: human-written and automatic explanations on the same scorers.

Three measures per explanation, each read as stored, none made up: the automatic score (the default
scorer, explanations/scoring.py), the human simulation score (players predicting activations,
game/predictions.py), and the pairwise rating from This-vs-That choices, read from an ExplanationScore
named PAIRWISE_SCORER when one exists (until then its column says so and stays empty).

Feature by feature: the best human-written and the best automatic explanation of each feature that has
both (best = highest automatic score, then human score). Overall: each kind's means, how often the
human one wins head to head, and how well the automatic score agrees with the human one.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from statistics import fmean

from featurepedia.interp.metrics import pearson_or_zero
from featurepedia.web.catalog.models import Source
from featurepedia.web.explanations.models import Explanation, ExplanationScore
from featurepedia.web.explanations.scoring import DEFAULT_SCORER
from featurepedia.web.game.predictions import HUMAN_SCORER

PAIRWISE_SCORER = "pairwise"  # where the This-vs-That (Bradley–Terry) rating is read from
MEASURES = (("automatic", f"Automatic score ({DEFAULT_SCORER})"),
            ("human", "Human simulation (players' correlation)"),
            ("rating", "Pairwise rating (This vs That)"))
MIN_FOR_AGREEMENT = 3


@dataclass
class Scored:
    """One explanation and its three measures (None where there is none yet)."""

    id: int
    text: str
    method: str
    automatic: float | None = None
    human: float | None = None
    players: int = 0
    rating: float | None = None

    @property
    def is_human(self) -> bool:
        return self.method == "human"

    def measure(self, name: str) -> float | None:
        return getattr(self, name)


@dataclass
class FeatureRow:
    model: str
    source: str
    index: int
    human: Scored
    machine: Scored

    @property
    def sides(self) -> tuple[Scored, Scored]:
        return self.human, self.machine


@dataclass
class KindSummary:
    """Means of one kind (human-written or automatic) over every explanation of that kind with the measure."""

    label: str
    explanations: int
    means: dict[str, float | None] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)

    @property
    def cells(self) -> list[tuple[float | None, int]]:
        """(mean, count) per measure, in MEASURES' order."""
        return [(self.means[name], self.counts[name]) for name, _ in MEASURES]


@dataclass
class HeadToHead:
    """Over features with both kinds scored by a measure: how often the human-written one is better."""

    measure: str
    label: str
    features: int
    human_wins: int
    machine_wins: int

    @property
    def ties(self) -> int:
        return self.features - self.human_wins - self.machine_wins


@dataclass
class Comparison:
    rows: list[FeatureRow]
    kinds: list[KindSummary]
    head_to_head: list[HeadToHead]
    agreement: float | None  # Pearson r of automatic vs human simulation, over explanations with both
    agreement_n: int
    has_ratings: bool


def _best(items: Iterable[Scored]) -> Scored:
    return max(items, key=lambda s: (s.automatic is not None, s.automatic or 0.0, s.human is not None,
                                     s.human or 0.0, -s.id))


def _summary(label: str, items: list[Scored]) -> KindSummary:
    summary = KindSummary(label, len(items))
    for name, _ in MEASURES:
        values = [v for v in (s.measure(name) for s in items) if v is not None]
        summary.means[name] = fmean(values) if values else None
        summary.counts[name] = len(values)
    return summary


def _scored(source: Source | None) -> list[tuple[tuple[str, str, int], Scored]]:
    """(feature, its measures) of every live explanation, in two flat queries (a page over a whole source
    must not build thousands of model objects with their scores' details)."""
    rows = Explanation.objects.filter(status=Explanation.Status.LIVE).exclude(author__profile__banned=True)
    if source is not None:
        rows = rows.filter(feature__source=source)
    scores = (ExplanationScore.objects.filter(explanation__in=rows.values("pk"), status=ExplanationScore.Status.OK,
                                              scorer__in=(DEFAULT_SCORER, HUMAN_SCORER, PAIRWISE_SCORER))
              .values_list("explanation_id", "scorer", "value", "details__players"))
    by_id: dict[int, dict[str, tuple[float, object]]] = {}
    for pk, scorer, value, players in scores:
        by_id.setdefault(pk, {})[scorer] = (value, players)
    out = []
    for pk, text, method, model, src, index in (rows.order_by("feature__source_id", "feature__index", "pk")
                                                 .values_list("pk", "text", "method", "feature__source__model__slug",
                                                              "feature__source__slug", "feature__index")):
        mine = by_id.get(pk, {})
        human = mine.get(HUMAN_SCORER)
        out.append(((model, src, index), Scored(
            pk, text, method, automatic=mine.get(DEFAULT_SCORER, (None, None))[0],
            human=human[0] if human else None, players=int(str(human[1] or 0)) if human else 0,
            rating=mine.get(PAIRWISE_SCORER, (None, None))[0])))
    return out


def compare(source: Source | None = None) -> Comparison:
    """The comparison over one source's features, or over every source."""
    scored = _scored(source)
    items = [s for _, s in scored]
    by_feature: dict[tuple[str, str, int], list[Scored]] = {}
    for feature, s in scored:
        by_feature.setdefault(feature, []).append(s)
    feature_rows = []
    for (model, src, index), group in by_feature.items():
        people, machines = [s for s in group if s.is_human], [s for s in group if not s.is_human]
        if people and machines:
            feature_rows.append(FeatureRow(model, src, index, _best(people), _best(machines)))
    duels = []
    for name, label in MEASURES:
        both = [(r.human.measure(name), r.machine.measure(name)) for r in feature_rows]
        pairs = [(h, m) for h, m in both if h is not None and m is not None]
        duels.append(HeadToHead(name, label, len(pairs), sum(h > m for h, m in pairs), sum(m > h for h, m in pairs)))
    paired = [(s.automatic, s.human) for s in items if s.automatic is not None and s.human is not None]
    agreement = (pearson_or_zero([a for a, _ in paired], [h for _, h in paired])
                 if len(paired) >= MIN_FOR_AGREEMENT else None)
    kinds = [_summary("Human-written", [s for s in items if s.is_human]),
             _summary("Automatic (machine)", [s for s in items if not s.is_human])]
    return Comparison(feature_rows, kinds, duels, agreement, len(paired), any(s.rating is not None for s in items))
