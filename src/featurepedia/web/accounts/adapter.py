"""How allauth fits Featurepedia: a new account's display name is taken from its e-mail address."""

from __future__ import annotations

from typing import Any

from allauth.account.adapter import DefaultAccountAdapter


class AccountAdapter(DefaultAccountAdapter):
    """allauth adapter; kept small, the game's own logic lives in signals and the game app."""

    def get_login_redirect_url(self, request: Any) -> str:
        # A visitor who played before signing up goes back to the game, where the credited answer shows.
        if request.session.get("came_from_game"):
            request.session.pop("came_from_game", None)
            return "/play/"
        return super().get_login_redirect_url(request)
