"""A player's answer to a puzzle, applied: the vote, explanation or flag is stored and points awarded.

The same function applies a signed-in player's answer at once and a visitor's answer kept in their
session until they sign up (see pending.py), so both earn exactly the same.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.contrib.auth.base_user import AbstractBaseUser
from django.db import transaction

from featurepedia.web.catalog.models import Feature
from featurepedia.web.explanations import services
from featurepedia.web.explanations.models import Explanation
from featurepedia.web.game import points
from featurepedia.web.game.models import Campaign, Flag, PlayEvent

ANSWERS = ("vote", "explain", "skip", "polysemantic", "none-fit")


@dataclass
class Outcome:
    """What happened, for the player: a message, points earned, and the explanation concerned."""

    kind: str
    message: str
    points: int = 0
    explanation: Explanation | None = None
    submit: services.SubmitResult | None = None
    extra: dict = field(default_factory=dict)


def apply_answer(user: AbstractBaseUser, feature: Feature, campaign: Campaign | None,
                 answer: dict[str, Any]) -> Outcome:
    """Apply one answer: {"kind": vote|explain|skip|polysemantic|none-fit, "explanation": id, "text": str}.

    Raises services.ExplanationError with a message for the player when it cannot be done.
    """
    kind = answer.get("kind")
    if kind == "vote":
        explanation = Explanation.objects.filter(pk=answer.get("explanation"), feature=feature).first()
        if explanation is None:
            raise services.ExplanationError("That explanation is gone; pick another one.")
        with transaction.atomic():
            services.cast_vote(user, explanation, int(answer.get("value", 1)))
            event = points.record(user, feature, PlayEvent.Action.VOTE, campaign, explanation)
        return Outcome("vote", f"You voted for “{explanation.text}”.", event.points, explanation)
    if kind == "explain":
        return _explain(user, feature, campaign, answer.get("text", ""))
    if kind in ("polysemantic", "none-fit"):
        with transaction.atomic():
            services.lock_player(user)  # the same flag sent twice at once is stored and rewarded once
            Flag.objects.get_or_create(user=user, feature=feature, explanation=None,
                                       kind=Flag.Kind.POLYSEMANTIC if kind == "polysemantic" else Flag.Kind.NONE_FIT)
            event = points.record(user, feature, kind, campaign)
        label = "a polysemantic mess" if kind == "polysemantic" else "not fitted by any explanation"
        return Outcome(kind, f"Noted: you marked this feature as {label}.", event.points)
    if kind == "skip":
        points.record(user, feature, PlayEvent.Action.SKIP, campaign)
        return Outcome("skip", "Skipped.")
    raise services.ExplanationError(f"Unknown answer {kind!r}; use one of {', '.join(ANSWERS)}.")


def _explain(user: AbstractBaseUser, feature: Feature, campaign: Campaign | None, text: str) -> Outcome:
    result = services.submit(user, feature, text)
    if result.duplicate_of is not None:
        existing = result.duplicate_of
        if existing.author_id == user.pk:
            return Outcome("duplicate", f"You already wrote “{existing.text}” for this feature.", 0, existing, result)
        event = points.record(user, feature, PlayEvent.Action.VOTE, campaign, existing)
        return Outcome("duplicate", f"“{existing.text}” already says that, so we counted your answer as an "
                       "upvote for it.", event.points, existing, result)
    earned = points.record(user, feature, PlayEvent.Action.EXPLAIN, campaign, result.explanation).points
    if result.new_best:
        earned += points.record(user, feature, "best", campaign, result.explanation).points
    score = result.score
    if score is not None and score.status == "ok":
        message = f"Your explanation scored {score.value:.2f}." + (" New best!" if result.new_best else "")
    elif score is not None and score.status == "failed":
        message = "Your explanation is saved; scoring it failed, and it will be scored again later."
    else:
        message = "Your explanation is saved and is being scored."
    return Outcome("explain", message, earned, result.explanation, result)
