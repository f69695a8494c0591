"""The community's part of a feature page: bookmark, add to a list, and the comments (registered by
CommunityConfig.ready)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.db import connection
from django.http import HttpRequest

from featurepedia.web.catalog.extensions import Panel, register_feature_stamp, register_panel
from featurepedia.web.community import services
from featurepedia.web.community.models import Comment, FeatureList
from featurepedia.web.game.models import Profile


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
    users, profiles = Comment._meta.get_field("author").related_model._meta.db_table, Profile._meta.db_table
    with connection.cursor() as cursor:  # services.visible_comments, in plain SQL: read for every shared page
        cursor.execute(f"SELECT c.id, u.username, p.display_name FROM {Comment._meta.db_table} c JOIN {users} u "
                       f"ON u.id = c.author_id LEFT JOIN {profiles} p ON p.user_id = c.author_id WHERE "
                       "c.feature_id = %s AND c.status = %s AND (p.banned IS NULL OR p.banned = %s) ORDER BY c.id",
                       [feature.pk, Comment.Status.LIVE, False])
        return tuple(cursor.fetchall())


def register() -> None:
    register_panel("feature", Panel("community.feature", "community/_feature.html", feature_context, order=85))
    register_feature_stamp("community.comments", comments_stamp)
