"""A visitor's answers, kept in their session until they sign up, then credited to the new account."""

from __future__ import annotations

import logging

from django.contrib import messages
from django.contrib.auth.base_user import AbstractBaseUser
from django.http import HttpRequest

from featurepedia.web.catalog.models import Feature
from featurepedia.web.explanations.services import ExplanationError
from featurepedia.web.game.actions import apply_answer
from featurepedia.web.game.models import Campaign

log = logging.getLogger(__name__)
SESSION_KEY = "pending_answers"
MAX_PENDING = 50


def keep(request: HttpRequest, feature: Feature, campaign: Campaign | None, answer: dict) -> None:
    """Remember a visitor's answer (at most the last MAX_PENDING)."""
    pending = request.session.get(SESSION_KEY, [])
    pending.append({"feature": feature.pk, "campaign": campaign.pk if campaign else None, **answer})
    request.session[SESSION_KEY] = pending[-MAX_PENDING:]


def count(request: HttpRequest) -> int:
    return len(request.session.get(SESSION_KEY, []))


def credit(request: HttpRequest, user: AbstractBaseUser) -> int:
    """Apply the session's answers as this user's; returns the points earned. Failures are reported, not raised."""
    pending = request.session.pop(SESSION_KEY, [])
    earned = 0
    for item in pending:
        feature = Feature.objects.filter(pk=item.get("feature")).first()
        if feature is None:
            continue
        campaign = Campaign.objects.filter(pk=item.get("campaign")).first()
        try:
            outcome = apply_answer(user, feature, campaign, item)
        except ExplanationError as err:
            messages.warning(request, f"An answer you gave before signing up could not be kept: {err}")
            continue
        earned += outcome.points
    # The puzzle pages said "sign up to save your answers": now they are saved.
    answers = request.session.get("game.answers", {})
    for shown in answers.values():
        if "Sign up" in shown.get("message", ""):
            shown["message"] = "Your answer is saved to your account."
    request.session["game.answers"] = answers
    if pending:
        messages.success(request, f"Your {len(pending)} answer{'s' if len(pending) != 1 else ''} from before "
                         f"you signed up {'are' if len(pending) != 1 else 'is'} now yours: +{earned} points.")
    return earned
