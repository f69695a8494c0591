"""Where Predict and the daily puzzle join the rest of the site (called from GameConfig.ready): a visitor's
predictions become theirs when they sign up or in, and a feature page shows its explanations' human scores."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.contrib import messages
from django.contrib.auth.signals import user_logged_in
from django.http import HttpRequest

from featurepedia.web.catalog.extensions import Panel, register_panel
from featurepedia.web.explanations.models import ExplanationScore
from featurepedia.web.game.panels import feature_campaigns
from featurepedia.web.game.predictions import HUMAN_SCORER, adopt_visitor_predictions


def credit_predictions(sender: Any, request: HttpRequest | None, user: Any, **kwargs: Any) -> None:
    if request is None or not hasattr(request, "session"):  # logins made by tests or scripts
        return
    earned = adopt_visitor_predictions(request, user)
    if earned:
        messages.success(request, f"Your predictions from before you signed in are now yours: +{earned} points.")


def feature_context(request: HttpRequest, page: Mapping[str, Any]) -> dict[str, Any]:
    """The human simulation scores of the feature's explanations, and where to predict it."""
    feature = page["feature"]
    scores = list(ExplanationScore.objects.filter(explanation__feature=feature, scorer=HUMAN_SCORER, status="ok")
                  .select_related("explanation").order_by("-value"))
    return {"human_scores": scores, "predict_campaigns": feature_campaigns(feature)[:1]}


def register() -> None:
    user_logged_in.connect(credit_predictions, dispatch_uid="game.credit_predictions")
    register_panel("feature", Panel("game.predict", "game/_feature_predict.html", feature_context, order=25))
