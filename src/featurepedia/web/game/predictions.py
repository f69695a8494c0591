"""Stored predictions: saving one (durably, once per player), the human simulation score of an explanation,
a player's skill, the next explanation to predict, and a visitor's predictions becoming theirs at sign-up.

Human simulation score of an explanation: the mean over signed-in players of each player's mean score on
it (so a player who met it twice, in a puzzle and in a daily, counts once). Visitors' predictions count once
they sign up: anyone can clear their cookies and answer again, a player cannot. It is stored as the
explanation's ExplanationScore named ``human-simulation``, beside the automatic scores, and updated in the
transaction that stores each prediction.

A player's skill: the mean of their prediction scores (a correlation, -1..1), shown once they have made
SKILL_MIN_PREDICTIONS. It also reflects how good the explanations they met were.
"""

from __future__ import annotations

import random
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from statistics import fmean, pstdev

from django.contrib.auth import get_user_model
from django.contrib.auth.base_user import AbstractBaseUser
from django.db import IntegrityError, transaction
from django.db.models import Avg, Count, Exists, OuterRef, Q, QuerySet
from django.http import HttpRequest

from featurepedia.web.catalog.models import ActivationExample
from featurepedia.web.explanations.models import Explanation, ExplanationScore
from featurepedia.web.game.models import Campaign, DailyPuzzle, PlayEvent, Prediction
from featurepedia.web.game.points import POINTS
from featurepedia.web.game.predict import PredictError, PuzzleText, check_marks, points_for, simulation_score

HUMAN_SCORER = "human-simulation"
HUMAN_SCORER_VERSION = "1"
SKILL_MIN_PREDICTIONS = 3
CANDIDATES = 25  # least-predicted explanations to choose from at random
VISITOR_KEY = "game.visitor"


class AlreadyPredicted(PredictError):
    status = 409


@dataclass
class Player:
    """Who answers: a signed-in user, or a visitor known by the id in their session."""

    user: AbstractBaseUser | None
    visitor: str

    def predictions(self) -> QuerySet[Prediction]:
        if self.user is not None:
            return Prediction.objects.filter(user=self.user)
        if self.visitor:
            return Prediction.objects.filter(visitor=self.visitor, user__isnull=True)
        return Prediction.objects.none()


def player_of(request: HttpRequest, create: bool = False) -> Player:
    """The request's player; ``create`` gives a visitor an id (in their session) when they answer first."""
    if request.user.is_authenticated:
        return Player(request.user, "")
    visitor = request.session.get(VISITOR_KEY, "")
    if not visitor and create:
        visitor = request.session[VISITOR_KEY] = secrets.token_hex(16)
    return Player(None, visitor)


@dataclass
class Saved:
    prediction: Prediction
    points: int


def save_prediction(explanation: Explanation, texts: Sequence[PuzzleText], marks: Sequence[Sequence[float]],
                    player: Player, campaign: Campaign | None = None, daily: DailyPuzzle | None = None) -> Saved:
    """Score and store a prediction, with its points and the explanation's new human score, in one transaction.

    Raises:
        PredictError: marks that do not fit the texts; AlreadyPredicted (409) when this player has answered
        this puzzle already (the database's unique constraints decide, so two tabs cannot both count).
    """
    if player.user is None and not player.visitor:
        raise PredictError("a prediction needs a player: sign in, or allow this site's session cookie")
    values = check_marks(marks, texts)
    truth = [t.truth for t in texts]
    score = simulation_score(values, truth)
    earned = 0
    try:
        with transaction.atomic():
            prediction = Prediction.objects.create(
                explanation=explanation, feature_id=explanation.feature_id, user=player.user,
                visitor="" if player.user is not None else player.visitor, campaign=campaign, daily=daily,
                texts=[t.ref for t in texts], marks=[[round(v, 3) for v in row] for row in values], truth=truth,
                score=score)
            if player.user is not None:
                earned = _award(prediction)
                refresh_human_score(explanation)
    except IntegrityError:
        what = "today's daily puzzle" if daily is not None else "this explanation"
        raise AlreadyPredicted(f"you have already played {what}; your first answer counts") from None
    return Saved(prediction, earned)


def _award(prediction: Prediction) -> int:
    action = PlayEvent.Action.DAILY if prediction.daily_id else PlayEvent.Action.PREDICT
    earned = points_for(prediction.score, POINTS[action])
    PlayEvent.objects.create(user=prediction.user, feature_id=prediction.feature_id, campaign=prediction.campaign,
                             explanation=prediction.explanation, action=action, points=earned)
    return earned


def refresh_human_score(explanation: Explanation) -> ExplanationScore:
    """Recompute the explanation's human simulation score from its players' predictions (call in a transaction)."""
    ExplanationScore.objects.get_or_create(explanation=explanation, scorer=HUMAN_SCORER)
    # Locked, so two predictions stored at once both end up in the mean (the second waits, then sees the first).
    row = ExplanationScore.objects.select_for_update().get(explanation=explanation, scorer=HUMAN_SCORER)
    per_player = [p["mean"] for p in Prediction.objects.filter(explanation=explanation, user__isnull=False)
                  .values("user").annotate(mean=Avg("score")).order_by("user")]
    if per_player:
        row.value, row.status = fmean(per_player), ExplanationScore.Status.OK
        row.details = {"scorer": HUMAN_SCORER, "version": HUMAN_SCORER_VERSION, "players": len(per_player),
                       "spread": round(pstdev(per_player), 4), "definition": "mean over players of the Pearson "
                       "correlation of their marks with the true activations, pooled over a puzzle's tokens"}
    else:
        row.value, row.status, row.details = None, ExplanationScore.Status.PENDING, {"players": 0}
    row.version = HUMAN_SCORER_VERSION
    row.save()
    return row


@dataclass
class HumanScore:
    value: float | None
    players: int


def human_score(explanation: Explanation) -> HumanScore:
    row = explanation.scores.filter(scorer=HUMAN_SCORER, status=ExplanationScore.Status.OK).first()
    if row is None:
        return HumanScore(None, 0)
    return HumanScore(row.value, int(row.details.get("players", 0)))


@dataclass
class Skill:
    value: float | None  # None until SKILL_MIN_PREDICTIONS
    predictions: int


def skill(user: AbstractBaseUser) -> Skill:
    agg = Prediction.objects.filter(user=user).aggregate(mean=Avg("score"), n=Count("id"))
    n = agg["n"] or 0
    return Skill(agg["mean"] if n >= SKILL_MIN_PREDICTIONS else None, n)


@dataclass
class SkillRow:
    rank: int
    name: str
    skill: float
    predictions: int


def best_predictors(limit: int = 20) -> list[SkillRow]:
    """Players by skill, among those with at least SKILL_MIN_PREDICTIONS predictions."""
    rows = (Prediction.objects.filter(user__isnull=False).values("user").annotate(mean=Avg("score"), n=Count("id"))
            .filter(n__gte=SKILL_MIN_PREDICTIONS).order_by("-mean", "user")[:limit])
    users = {u.pk: u for u in get_user_model().objects.filter(pk__in=[r["user"] for r in rows])
             .select_related("profile")}
    out = []
    for rank, r in enumerate(rows, start=1):
        user = users[r["user"]]
        profile = getattr(user, "profile", None)
        name = profile.name if profile is not None else user.get_username().split("@")[0]
        out.append(SkillRow(rank, name, r["mean"], r["n"]))
    return out


def predictable(campaign: Campaign) -> QuerySet[Explanation]:
    """Live explanations of the campaign's features that have non-activating examples to score against."""
    negatives = ActivationExample.objects.filter(feature=OuterRef("feature"), bin="negative")
    return (Explanation.objects.filter(feature__in=campaign.feature_queryset().filter(max_act__gt=0),
                                       status=Explanation.Status.LIVE)
            .exclude(author__profile__banned=True).filter(Exists(negatives)))


def next_explanation(campaign: Campaign, player: Player, exclude: Sequence[int] = (),
                     rng: random.Random | None = None) -> Explanation | None:
    """One of the least-predicted explanations this player has not predicted (nor written), at random."""
    rng = rng or random.Random()
    done = list(player.predictions().filter(daily__isnull=True).values_list("explanation_id", flat=True))
    rows = predictable(campaign).exclude(pk__in=[*done, *exclude])
    if player.user is not None:
        rows = rows.exclude(author=player.user)
    rows = (rows.annotate(n=Count("predictions", filter=Q(predictions__user__isnull=False)))
            .order_by("n", "pk").select_related("feature__source__model"))
    pool = list(rows[:CANDIDATES])
    if not pool:
        return None
    least = [e for e in pool if e.n == pool[0].n]
    return rng.choice(least)


def adopt_visitor_predictions(request: HttpRequest, user: AbstractBaseUser) -> int:
    """On sign-up or sign-in, a visitor's predictions become the user's (with their points); returns the points.

    One the user already made as a player (the same explanation, or the same day's daily) stays the
    visitor's: the player's own answer counts, and nothing is deleted.
    """
    visitor = request.session.get(VISITOR_KEY, "")
    if not visitor:
        return 0
    earned = 0
    for prediction in Prediction.objects.filter(visitor=visitor, user__isnull=True).select_related("explanation"):
        try:
            with transaction.atomic():
                prediction.user = user
                prediction.save(update_fields=["user"])
                earned += _award(prediction)
                refresh_human_score(prediction.explanation)
        except IntegrityError:
            continue
    return earned
