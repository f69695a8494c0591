"""What players' judgements say about a feature, on its page: This-vs-That's ratings of its explanations
(and how many people compared them) and Odd-one-out's consistency (registered by GameConfig.ready)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.http import HttpRequest

from featurepedia.web.catalog import pagecache
from featurepedia.web.catalog.extensions import Panel, register_panel
from featurepedia.web.game import activity, oddone, versus
from featurepedia.web.game.panels import feature_campaigns


def feature_context(request: HttpRequest, page: Mapping[str, Any]) -> dict[str, Any]:
    """The ranking and the consistency (cached until the feature's activity stamp moves) and where to play."""
    feature = page["feature"]
    ranking, consistency = pagecache.cached("judgements", (feature.pk, *activity.stamp(feature.pk)),
                                            lambda: (versus.feature_ranking(feature), oddone.consistency(feature)))
    campaigns = feature_campaigns(feature)
    return {"ranking": ranking, "min_comparisons": versus.MIN_COMPARISONS,
            "consistency": consistency, "flag_below": oddone.FLAG_BELOW,
            "flag_min_answers": oddone.FLAG_MIN_ANSWERS, "play_campaign": campaigns[0] if campaigns else None}


def register() -> None:
    register_panel("feature", Panel("game.judgements", "game/_feature_judgements.html", feature_context, order=15))
