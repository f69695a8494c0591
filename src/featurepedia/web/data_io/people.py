"""How people appear in exported data: their display name when they chose one, else a stable anonymous id.

The anonymous id is a keyed hash (HMAC with the site's secret key) of the account's id or the visitor's
token, so one person has the same id in every table and every export of this site, and nobody without the
key can tell who it is. E-mails, user names and passwords are never read here.
"""

from __future__ import annotations

from typing import Any

from django.utils.crypto import salted_hmac

SALT = "featurepedia.data_io.people"


def anonymous_id(kind: str, value: str) -> str:
    """``anon-<16 hex>`` for an account (kind ``user``) or ``visitor-<16 hex>`` for a visitor's token."""
    digest = salted_hmac(SALT, f"{kind}:{value}", algorithm="sha256").hexdigest()[:16]
    return f"{'anon' if kind == 'user' else 'visitor'}-{digest}"


class People:
    """Names by account id, read once: the display names that players chose (nothing else of theirs)."""

    def __init__(self) -> None:
        from featurepedia.web.game.models import Profile

        self._names = {user_id: name for user_id, name in Profile.objects.exclude(display_name="")
                       .values_list("user_id", "display_name")}

    def of(self, user_id: int | None, visitor: str = "") -> str:
        """A person as exported: display name, else their anonymous id; "" for nobody (e.g. a method)."""
        if user_id is not None:
            return self._names.get(user_id) or anonymous_id("user", str(user_id))
        return anonymous_id("visitor", visitor) if visitor else ""

    def is_named(self, user_id: Any) -> bool:
        return user_id in self._names
