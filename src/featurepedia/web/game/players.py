"""Who answers in This-vs-That and Odd-one-out: a signed-in player, or a visitor known by a token in their
session. A visitor's answers are stored at once (they count in the rankings and measures like anyone's) and
become theirs, with the points, when they sign in (``adopt``, on Django's user_logged_in signal).

The token lives in the session's data, not in its key: Django changes the key at sign-in and keeps the data.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from django.contrib import messages
from django.contrib.auth.base_user import AbstractBaseUser
from django.db import transaction
from django.db.models import Q
from django.http import HttpRequest

from featurepedia.errors import FeaturepediaError
from featurepedia.web.game import points
from featurepedia.web.game.models import Comparison, OddOneAnswer, PlayEvent

VISITOR_KEY = "game.visitor"


class AnswerError(FeaturepediaError, ValueError):
    """A This-vs-That or Odd-one-out answer that cannot be taken; the message says why and what to do."""


@dataclass(frozen=True)
class Player:
    """A signed-in user, or a visitor's token (exactly one of the two)."""

    user: AbstractBaseUser | None = None
    visitor: str = ""

    @classmethod
    def of(cls, request: HttpRequest, create: bool = True) -> Player:
        """The request's player; a visitor gets a token when ``create`` (else an empty one: no answers)."""
        if request.user.is_authenticated:
            return cls(user=request.user)
        token = request.session.get(VISITOR_KEY, "")
        if not token and create:
            token = uuid.uuid4().hex
            request.session[VISITOR_KEY] = token
        return cls(visitor=token)

    @property
    def is_visitor(self) -> bool:
        return self.user is None

    def answers(self) -> Q:
        """Selects this player's rows of Comparison or OddOneAnswer."""
        if self.user is not None:
            return Q(user=self.user)
        return Q(visitor=self.visitor) if self.visitor else Q(pk__in=[])

    def fields(self) -> dict[str, Any]:
        """The player columns of a new answer."""
        return {"user": self.user, "visitor": "" if self.user is not None else self.visitor}


def award(user: AbstractBaseUser, action: str, row: Comparison | OddOneAnswer, earned: int) -> PlayEvent:
    """The play event of one stored answer (its points are per answer: the answer itself is unique)."""
    explanation = None
    if isinstance(row, Comparison) and row.choice != Comparison.Choice.BOTH_BAD:
        explanation = row.first if row.choice == Comparison.Choice.FIRST else row.second
    return PlayEvent.objects.create(user=user, feature_id=row.feature_id, campaign_id=row.campaign_id,
                                    explanation=explanation, action=action, points=earned, created=row.created)


def adopt(request: HttpRequest, user: AbstractBaseUser) -> int:
    """Make the session's visitor answers this user's and award their points; returns the points.

    An answer to something the account already answered is dropped: one answer per person counts.
    """
    token = request.session.pop(VISITOR_KEY, "")
    if not token:
        return 0
    earned = moved = 0
    with transaction.atomic():
        for c in Comparison.objects.filter(visitor=token).select_related("first", "second"):
            if Comparison.objects.filter(user=user, first_id=c.first_id, second_id=c.second_id).exists():
                c.delete()
                continue
            c.user, c.visitor = user, ""
            c.save(update_fields=["user", "visitor"])
            earned += award(user, PlayEvent.Action.VERSUS, c, points.PER_ANSWER[PlayEvent.Action.VERSUS]).points
            moved += 1
        for a in OddOneAnswer.objects.filter(visitor=token):
            if OddOneAnswer.objects.filter(user=user, feature_id=a.feature_id).exists():
                a.delete()
                continue
            a.user, a.visitor = user, ""
            a.save(update_fields=["user", "visitor"])
            earned += award(user, PlayEvent.Action.ODD_ONE, a, points.odd_one_points(a.found)).points
            moved += 1
    if moved:
        messages.success(request, f"Your {moved} This-vs-That and Odd-one-out answer{'s' if moved != 1 else ''} "
                         f"from before you signed in {'are' if moved != 1 else 'is'} now yours: +{earned} points.")
    return earned


def on_login(sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
    # Requests built by tests or scripts may have no session.
    if request is not None and hasattr(request, "session"):
        adopt(request, user)


def connect() -> None:
    from django.contrib.auth.signals import user_logged_in

    user_logged_in.connect(on_login, dispatch_uid="game.players.adopt")
