"""Template context for every page: the player's preferences and, when signed in, their points."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from featurepedia.web.game.prefs import get_prefs


def player(request: HttpRequest) -> dict[str, Any]:
    """`prefs` (explicit filter, advanced and blind mode) for everyone, signed in or not."""
    if request.path.startswith("/admin/") or request.path.startswith("/static/"):
        return {}
    return {"prefs": get_prefs(request)}
