"""The game's parts of catalog pages: the home page's invitation to play, a feature's campaigns, and the
explicit-text filter (registered by GameConfig.ready)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from django.db.models import Q
from django.http import HttpRequest

from featurepedia.web.catalog.extensions import (
    Panel,
    register_feature_stamp,
    register_panel,
    register_text_filter,
)
from featurepedia.web.catalog.models import Feature
from featurepedia.web.game import activity
from featurepedia.web.game.explicit import is_explicit
from featurepedia.web.game.leaderboard import leaderboard
from featurepedia.web.game.models import Campaign
from featurepedia.web.game.prefs import get_prefs
from featurepedia.web.game.puzzles import campaign_progress


def home_context(request: HttpRequest, page: Mapping[str, Any]) -> dict[str, Any]:
    """Running campaigns with their progress, where Play starts, the side quest offered beside it, and the top
    players of all time and of this week."""
    campaigns = [(c, campaign_progress(c)) for c in Campaign.running().select_related("source__model")[:6]]
    main = Campaign.main()
    # "Play now" starts in the main campaign; a running contest is offered beside it.
    side_quest = Campaign.running().filter(contest=True).exclude(pk=main.pk if main else None).first()
    return {"campaigns": campaigns, "main_campaign": main, "side_quest": side_quest,
            "top_players": leaderboard("all", limit=5), "week_players": leaderboard("week", limit=5)}


def feature_campaigns(feature: Feature) -> list[Campaign]:
    """Running campaigns this feature belongs to (so its page can offer "play it"), in one query.

    A campaign holds its picked features, or every feature of its source when it picked none (as
    Campaign.feature_queryset does). Kept on the feature object: the panels of one page share it.
    """
    memo: list[Campaign] | None = getattr(feature, "_running_campaigns", None)
    if memo is None:
        picked_or_whole_source = Q(features=feature) | Q(source_id=feature.source_id, features__isnull=True)
        memo = list(Campaign.running().filter(picked_or_whole_source).distinct())
        feature._running_campaigns = memo
    return list(memo)


def feature_context(request: HttpRequest, page: Mapping[str, Any]) -> dict[str, Any]:
    return {"campaigns": feature_campaigns(page["feature"])}


def embed_context(request: HttpRequest, page: Mapping[str, Any]) -> dict[str, Any]:
    from django.urls import reverse

    from featurepedia.web.game.embed_views import embed_code

    feature = page["feature"]
    return {"embed_code": embed_code(request, feature),
            "embed_url": reverse("embed-feature", args=[feature.source.model.slug, feature.source.slug,
                                                        feature.index])}


def explicit_filter(request: HttpRequest) -> Callable[[str], bool] | None:
    """Hide explicit words from players who asked for the filter."""
    return is_explicit if get_prefs(request).explicit_filter else None


def register() -> None:
    register_panel("home", Panel("game.play", "game/_home.html", home_context))
    register_panel("feature", Panel("game.campaigns", "game/_feature_campaigns.html", feature_context, order=10))
    register_panel("feature", Panel("game.embed", "game/_feature_embed.html", embed_context, order=90))
    register_text_filter("game.explicit", explicit_filter)
    register_feature_stamp("game.activity", activity_stamp)


def activity_stamp(feature: Feature) -> tuple:
    """What the game's and the explanations' panels show of a feature: its activity (explanations, scores,
    votes, comparisons, answers, flags) and the running campaigns it is in."""
    return (*activity.stamp(feature.pk), *activity.campaigns_stamp())
