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
from featurepedia.web.catalog.models import Feature, Source
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

    explanation: Explanation
    automatic: float | None
    human: float | None
    players: int
    rating: float | None

    @property
    def is_human(self) -> bool:
        return self.explanation.method == "human"

    def measure(self, name: str) -> float | None:
        return getattr(self, name)


def scored(explanation: Explanation) -> Scored:
    """An explanation's measures from its (prefetched) scores."""
    ok = {s.scorer: s for s in explanation.scores.all() if s.status == ExplanationScore.Status.OK}
    auto, human, rating = ok.get(DEFAULT_SCORER), ok.get(HUMAN_SCORER), ok.get(PAIRWISE_SCORER)
    return Scored(explanation, auto.value if auto else None, human.value if human else None,
                  int(human.details.get("players", 0)) if human else 0, rating.value if rating else None)


@dataclass
class FeatureRow:
    feature: Feature
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
                                     s.human or 0.0, -s.explanation.pk))


def _summary(label: str, items: list[Scored]) -> KindSummary:
    summary = KindSummary(label, len(items))
    for name, _ in MEASURES:
        values = [v for v in (s.measure(name) for s in items) if v is not None]
        summary.means[name] = fmean(values) if values else None
        summary.counts[name] = len(values)
    return summary


def compare(source: Source | None = None) -> Comparison:
    """The comparison over one source's features, or over every source."""
    rows = Explanation.objects.filter(status=Explanation.Status.LIVE).exclude(author__profile__banned=True)
    if source is not None:
        rows = rows.filter(feature__source=source)
    items = [scored(e) for e in rows.select_related("feature__source__model").prefetch_related("scores")
             .order_by("feature__source_id", "feature__index", "pk")]
    by_feature: dict[int, list[Scored]] = {}
    for s in items:
        by_feature.setdefault(s.explanation.feature_id, []).append(s)
    feature_rows = []
    for group in by_feature.values():
        people, machines = [s for s in group if s.is_human], [s for s in group if not s.is_human]
        if people and machines:
            feature_rows.append(FeatureRow(group[0].explanation.feature, _best(people), _best(machines)))
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
