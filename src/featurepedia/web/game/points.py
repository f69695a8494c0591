"""Points and streaks: what each action earns, and how many days in a row a player has played.

Points are earned once per thing, so changing a vote back and forth, or flagging twice, earns nothing more.
"""

from __future__ import annotations

from datetime import date, timedelta

from django.contrib.auth.base_user import AbstractBaseUser
from django.db import transaction
from django.db.models import Sum
from django.utils import timezone

from featurepedia.web.catalog.models import Feature
from featurepedia.web.explanations.models import Explanation
from featurepedia.web.explanations.services import lock_player
from featurepedia.web.game.models import Campaign, PlayEvent

POINTS = {
    PlayEvent.Action.VOTE: 1,
    PlayEvent.Action.EXPLAIN: 3,
    PlayEvent.Action.BEST: 5,  # on top of EXPLAIN, when a new explanation beats the feature's best score
    PlayEvent.Action.POLYSEMANTIC: 1,
    PlayEvent.Action.NONE_FIT: 1,
    PlayEvent.Action.SKIP: 0,
    PlayEvent.Action.PREDICT: 1,  # plus up to 3 for the score (game/predict.py points_for)
    PlayEvent.Action.DAILY: 2,  # the same, for the daily puzzle
}

# This-vs-That and Odd-one-out (versus.py, oddone.py; docs/game.md): each answer is stored once per player and
# item (a database constraint), so their points are per answer, not once per feature. Skipping earns nothing.
PER_ANSWER = {
    PlayEvent.Action.VERSUS: 1,  # a choice between two explanations, "both bad" included
    PlayEvent.Action.ODD_ONE: 1,  # any answer, "they are all alike" included ...
}
ODD_ONE_FOUND_BONUS = 1  # ... plus this when the pick was the intruder: looking closely pays more than guessing


def odd_one_points(found: bool) -> int:
    """What an Odd-one-out answer earns."""
    return PER_ANSWER[PlayEvent.Action.ODD_ONE] + (ODD_ONE_FOUND_BONUS if found else 0)


def record(user: AbstractBaseUser, feature: Feature, action: str, campaign: Campaign | None = None,
           explanation: Explanation | None = None) -> PlayEvent:
    """Log a play and award its points, unless this player already earned them for the same thing.

    The player's row is locked while checking, so the same answer sent many times at once earns once.
    """
    earned = POINTS[PlayEvent.Action(action)]
    with transaction.atomic():
        if earned:
            lock_player(user)
        already = PlayEvent.objects.filter(user=user, feature=feature, action=action)
        if action in (PlayEvent.Action.EXPLAIN, PlayEvent.Action.BEST):
            already = already.filter(explanation=explanation)
        if earned and already.filter(points__gt=0).exists():
            earned = 0
        return PlayEvent.objects.create(user=user, feature=feature, action=action, campaign=campaign,
                                        explanation=explanation, points=earned)


def total(user: AbstractBaseUser) -> int:
    """All points a player has earned."""
    return PlayEvent.objects.filter(user=user).aggregate(p=Sum("points"))["p"] or 0


def streak(user: AbstractBaseUser, today: date | None = None) -> int:
    """Days in a row (UTC) with at least one answer, ending today or yesterday."""
    today = today or timezone.now().date()
    days = set(PlayEvent.objects.filter(user=user, created__date__gte=today - timedelta(days=366))
               .exclude(action=PlayEvent.Action.SKIP).values_list("created__date", flat=True))
    day = today if today in days else today - timedelta(days=1)
    count = 0
    while day in days:
        count += 1
        day -= timedelta(days=1)
    return count
