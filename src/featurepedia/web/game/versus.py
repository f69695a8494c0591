"""This-vs-That: two explanations of one feature side by side; the player picks the better one or "both bad".

The choices feed a Bradley–Terry ranking with the automatic scores as its prior (ranking.py): one rating per
explanation, with uncertainty. Once a feature's explanations have MIN_COMPARISONS comparisons, that ranking
orders them everywhere (its best explanation included: ``register`` hands it to the explanations app);
before that they keep the explanations app's order (most upvoted, then best automatic score).

Which pair is asked (``choose_pair``): among the pairs of a feature's live explanations that this player has
not answered, skipped or written, the one with the highest p(1 − p) / (1 + n), where p is the chance the
current ratings give one of them to win and n is how many times the pair was compared so far. p(1 − p) is
the Fisher information one comparison carries about the two ratings' difference (largest when they are
close), and 1 / (1 + n) spreads the comparisons over pairs. Features come least compared first.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Collection, Iterable
from dataclasses import dataclass

from django.db import IntegrityError, transaction
from django.db.models import Count, Q

from featurepedia.web.catalog.models import Feature
from featurepedia.web.explanations.models import Explanation, ExplanationScore
from featurepedia.web.explanations.scoring import DEFAULT_SCORER
from featurepedia.web.game import points, ranking
from featurepedia.web.game.models import Campaign, Comparison, PlayEvent
from featurepedia.web.game.players import AnswerError, Player, award

MIN_COMPARISONS = 20  # from this many comparisons on, a feature's ranking decides its best explanation
CANDIDATES = 25  # least-compared features looked at for a pair


@dataclass
class Rated:
    """One explanation in its feature's ranking."""

    explanation: Explanation
    rating: float  # log-odds against a just-good-enough explanation (ranking.py)
    sd: float
    score: float | None  # the automatic score, the prior
    comparisons: int = 0
    wins: int = 0
    judged_bad: int = 0  # "both bad" answers it was in


@dataclass
class FeatureRanking:
    """A feature's explanations best first, and how much comparing is behind it."""

    rated: list[Rated]
    comparisons: int
    people: int
    pair_counts: Counter[tuple[int, int]]

    @property
    def settled(self) -> bool:
        return self.comparisons >= MIN_COMPARISONS

    def get(self, explanation_id: int) -> Rated | None:
        return next((r for r in self.rated if r.explanation.pk == explanation_id), None)


def _live(feature_ids: Iterable[int]) -> list[Explanation]:
    # Not services.visible(): that one asks this module for the order.
    return list(Explanation.objects.filter(feature_id__in=list(feature_ids), status=Explanation.Status.LIVE)
                .exclude(author__profile__banned=True).select_related("author", "author__profile")
                .order_by("feature_id", "created", "pk"))


def feature_rankings(feature_ids: Iterable[int]) -> dict[int, FeatureRanking]:
    """The ranking of each feature with at least one live explanation, in three queries."""
    by_feature: dict[int, list[Explanation]] = {}
    for e in _live(feature_ids):
        by_feature.setdefault(e.feature_id, []).append(e)
    ids = [e.pk for es in by_feature.values() for e in es]
    scores = dict(ExplanationScore.objects.filter(explanation_id__in=ids, scorer=DEFAULT_SCORER,
                                                  status=ExplanationScore.Status.OK, value__isnull=False)
                  .values_list("explanation_id", "value"))
    comparisons: dict[int, list[Comparison]] = {}
    for c in Comparison.objects.filter(feature_id__in=list(by_feature), first_id__in=ids, second_id__in=ids):
        comparisons.setdefault(c.feature_id, []).append(c)
    return {fid: _rank(es, scores, comparisons.get(fid, [])) for fid, es in by_feature.items()}


def feature_ranking(feature: Feature) -> FeatureRanking:
    return feature_rankings([feature.pk]).get(feature.pk) or FeatureRanking([], 0, 0, Counter())


def _rank(explanations: list[Explanation], scores: dict[int, float], comparisons: list[Comparison]) -> FeatureRanking:
    position = {e.pk: i for i, e in enumerate(explanations)}
    outcomes: list[ranking.Outcome] = []
    tally = [[0, 0, 0] for _ in explanations]  # comparisons, wins, judged bad
    pairs: Counter[tuple[int, int]] = Counter()
    for c in comparisons:
        a, b = position[c.first_id], position[c.second_id]
        pairs[(c.first_id, c.second_id)] += 1
        tally[a][0] += 1
        tally[b][0] += 1
        if c.choice == Comparison.Choice.BOTH_BAD:
            outcomes += [ranking.Outcome(ranking.REFERENCE, a, ranking.BOTH_BAD_WEIGHT),
                         ranking.Outcome(ranking.REFERENCE, b, ranking.BOTH_BAD_WEIGHT)]
            tally[a][2] += 1
            tally[b][2] += 1
        else:
            win, lose = (a, b) if c.choice == Comparison.Choice.FIRST else (b, a)
            outcomes.append(ranking.Outcome(win, lose))
            tally[win][1] += 1
    prior = [ranking.prior_mean(scores.get(e.pk)) for e in explanations]
    ratings, sds = ranking.fit(prior, outcomes)
    rated = [Rated(e, float(ratings[i]), float(sds[i]), scores.get(e.pk), *tally[i]) for i, e in enumerate(explanations)]
    rated.sort(key=lambda r: (-r.rating, r.explanation.created, r.explanation.pk))
    people = len({(c.user_id, c.visitor) for c in comparisons})
    return FeatureRanking(rated, len(comparisons), people, pairs)


def settled_order(feature_ids: list[int]) -> dict[int, list[int]]:
    """For the features whose ranking is settled, their live explanation ids best first (the explanations
    app's ranker, see ``register``)."""
    settled = list(Comparison.objects.filter(feature_id__in=feature_ids).values("feature_id")
                   .annotate(n=Count("id")).filter(n__gte=MIN_COMPARISONS).values_list("feature_id", flat=True))
    if not settled:
        return {}
    return {fid: [r.explanation.pk for r in fr.rated] for fid, fr in feature_rankings(settled).items()
            if fr.settled}


def register() -> None:
    from featurepedia.web.explanations.services import register_ranker

    register_ranker("game.versus", settled_order)


# --- choosing what to ask --------------------------------------------------------------------------------


def choose_pair(fr: FeatureRanking, player: Player, skipped: Collection[tuple[int, int]] = (),
                rng: random.Random | None = None) -> tuple[Explanation, Explanation] | None:
    """The most informative pair of this ranking for this player (see the module's docstring), in id order."""
    rng = rng or random.Random()
    answered = set(Comparison.objects.filter(player.answers(), first_id__in=[r.explanation.pk for r in fr.rated])
                   .values_list("first_id", "second_id"))
    own = player.user.pk if player.user is not None else None
    rated = [r for r in fr.rated if own is None or r.explanation.author_id != own]
    best: list[tuple[float, Explanation, Explanation]] = []
    for i, a in enumerate(rated):
        for b in rated[i + 1:]:
            first, second = sorted((a, b), key=lambda r: r.explanation.pk)
            key = (first.explanation.pk, second.explanation.pk)
            if key in answered or key in skipped:
                continue
            p = ranking.win_probability(first.rating, second.rating)
            best.append((p * (1 - p) / (1 + fr.pair_counts[key]), first.explanation, second.explanation))
    if not best:
        return None
    top = max(v for v, *_ in best)
    _, first, second = rng.choice([b for b in best if b[0] >= top - 1e-12])
    return first, second


def next_pair(campaign: Campaign, player: Player, skipped: Collection[tuple[int, int]] = (),
              rng: random.Random | None = None) -> tuple[Feature, Explanation, Explanation] | None:
    """A feature of the campaign with two live explanations to compare, least compared first, and its pair."""
    rng = rng or random.Random()
    features = list(campaign.feature_queryset().filter(max_act__gt=0)
                    .annotate(n_live=Count("explanations", filter=Q(explanations__status=Explanation.Status.LIVE),
                                           distinct=True),
                              n_compared=Count("comparisons", distinct=True))
                    .filter(n_live__gte=2).order_by("n_compared", "index").select_related("source__model")[:CANDIDATES])
    rng.shuffle(features)
    features.sort(key=lambda f: f.n_compared)  # stable: random among equally compared
    rankings = feature_rankings(f.pk for f in features)
    for f in features:
        pair = choose_pair(rankings[f.pk], player, skipped, rng) if f.pk in rankings else None
        if pair is not None:
            return f, *pair
    return None


# --- answering -------------------------------------------------------------------------------------------


@dataclass
class Recorded:
    comparison: Comparison
    points: int
    agree: int  # earlier answers to this pair with the same choice
    others: int  # earlier answers to this pair


def record(player: Player, a: int, b: int, better: int | None, campaign: Campaign | None = None) -> Recorded:
    """Store one choice between explanations ``a`` and ``b`` (``better`` is one of them, or None for "both
    bad") and its points, in one transaction: committed before the caller answers.

    Raises AnswerError (409 for a pair this player already answered).
    """
    if a == b:
        raise AnswerError("Pick two different explanations to compare.")
    pair = {e.pk: e for e in Explanation.objects.filter(pk__in=[a, b]).select_related("feature")}
    if len(pair) != 2 or any(e.status != Explanation.Status.LIVE for e in pair.values()):
        raise AnswerError("One of these explanations is gone or hidden; compare another pair.", status=404)
    first, second = sorted(pair.values(), key=lambda e: e.pk)
    if first.feature_id != second.feature_id:
        raise AnswerError("These two explanations are of different features; compare two of the same feature.")
    if better is not None and better not in pair:
        raise AnswerError("The better one must be one of the two compared; or answer 'both bad'.")
    if player.user is not None and player.user.pk in (first.author_id, second.author_id):
        raise AnswerError("You wrote one of these, so you cannot judge them; compare others' explanations.")
    choice = (Comparison.Choice.BOTH_BAD if better is None else
              Comparison.Choice.FIRST if better == first.pk else Comparison.Choice.SECOND)
    earlier = Counter(Comparison.objects.filter(first=first, second=second).values_list("choice", flat=True))
    try:
        with transaction.atomic():
            row = Comparison.objects.create(feature_id=first.feature_id, first=first, second=second, choice=choice,
                                            campaign=campaign, **player.fields())
            earned = 0
            if player.user is not None:
                earned = award(player.user, PlayEvent.Action.VERSUS, row,
                               points.PER_ANSWER[PlayEvent.Action.VERSUS]).points
    except IntegrityError as err:
        raise AnswerError("You already compared these two; here is another pair.", status=409) from err
    return Recorded(row, earned, earlier[choice], sum(earlier.values()))


def outcome_message(recorded: Recorded, player: Player) -> str:
    """What the player is told after a choice: what others chose, and the points."""
    c = recorded.comparison
    said = {"first": f"“{c.first.text}” is better", "second": f"“{c.second.text}” is better",
            "both-bad": "both are bad"}[c.choice]
    crowd = (f" {recorded.agree} of the {recorded.others} people before you agreed." if recorded.others
             else " You are the first to compare these two.")
    if player.is_visitor:
        tail = " Sign up to keep your answers and earn points."
    else:
        tail = f" +{recorded.points} point{'s' if recorded.points != 1 else ''}." if recorded.points else ""
    return f"You said {said}.{crowd}{tail}"
