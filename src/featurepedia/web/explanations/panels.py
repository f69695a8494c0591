"""The explanations' part of a feature page: the list, votes and the form to write one (registered by
ExplanationsConfig.ready)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.http import HttpRequest

from featurepedia.web.catalog.extensions import Panel, register_panel
from featurepedia.web.explanations.limits import explanations_allowance
from featurepedia.web.explanations.presenting import shown_explanations
from featurepedia.web.explanations.views import KEPT_TEXT
from featurepedia.web.game.prefs import get_prefs


def feature_context(request: HttpRequest, page: Mapping[str, Any]) -> dict[str, Any]:
    """The feature's explanations (filtered by method in advanced mode), what a failed submission wrote,
    today's allowance, and where forms come back to."""
    feature = page["feature"]
    advanced = get_prefs(request).advanced_mode
    method = request.GET.get("method", "") if advanced else ""
    return {
        "explanations": shown_explanations(request, feature, method, predictions=advanced),
        "kept_text": request.session.get(KEPT_TEXT, {}).get(str(feature.pk), ""),
        "allowance": explanations_allowance(request.user) if request.user.is_authenticated else None,
        "next": request.get_full_path(),
    }


def register() -> None:
    register_panel("feature", Panel("explanations.section", "explanations/_feature_section.html", feature_context,
                                    order=20))
