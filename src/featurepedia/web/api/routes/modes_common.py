"""What the This-vs-That and Odd-one-out routes share: the campaign asked for, and who is asking."""

from __future__ import annotations

from django.http import HttpRequest

from featurepedia.errors import NotFoundError
from featurepedia.web.api.identity import api_key
from featurepedia.web.game.models import Campaign
from featurepedia.web.game.players import Player


def campaign_named(slug: str) -> Campaign:
    """The campaign ``slug``, or the first running one when ``slug`` is empty."""
    found = (Campaign.objects.filter(slug=slug).first() if slug else Campaign.main())
    if found is None:
        raise NotFoundError(f"no campaign {slug!r}; GET /api/campaigns lists them" if slug else
                            "no campaign is running; GET /api/campaigns lists them")
    return found


def reader(request: HttpRequest) -> Player:
    """The key's owner (so what they answered is left out), or nobody in particular."""
    key = api_key(request)
    return Player(user=key.user) if key is not None else Player()
