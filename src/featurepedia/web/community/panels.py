"""The community's part of a feature page: bookmark, add to a list, and the comments (registered by
CommunityConfig.ready)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.http import HttpRequest

from featurepedia.web.catalog.extensions import Panel, register_feature_stamp, register_panel
from featurepedia.web.community import services
from featurepedia.web.community.models import FeatureList


def feature_context(request: HttpRequest, page: Mapping[str, Any]) -> dict[str, Any]:
    feature = page["feature"]
    signed_in = request.user.is_authenticated
    return {
        "comments": list(services.visible_comments(feature)),
        "bookmarked": services.is_bookmarked(request.user, feature),
        "my_lists": list(FeatureList.objects.filter(owner=request.user).only("pk", "title")) if signed_in else [],
        "comment_draft": request.session.get("comment_draft", {}).get(str(feature.pk), "") if signed_in else "",
        "max_comment": services.MAX_COMMENT,
        "next": request.get_full_path(),
    }


def comments_stamp(feature: Any) -> tuple:
    """What the panel shows every visitor: the shown comments (a new, deleted, hidden or restored one, or a
    ban of its author, changes the list; comments are never edited) and their authors' names, so the shared
    page cache never serves an old discussion."""
    return tuple(services.visible_comments(feature).order_by("id").values_list(
        "id", "author__username", "author__profile__display_name"))


def register() -> None:
    register_panel("feature", Panel("community.feature", "community/_feature.html", feature_context, order=85))
    register_feature_stamp("community.comments", comments_stamp)
