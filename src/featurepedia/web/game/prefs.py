"""A player's display preferences, from their profile or (for a visitor) from their session."""

from __future__ import annotations

from dataclasses import asdict, dataclass

from django.contrib.auth.base_user import AbstractBaseUser
from django.http import HttpRequest

from featurepedia.web.game.models import Profile

SESSION_KEY = "prefs"


@dataclass
class Prefs:
    explicit_filter: bool = False
    advanced_mode: bool = False
    blind_mode: bool = True
    onboarded: bool = False
    confirmed_first_vote: bool = False


def profile_for(user: AbstractBaseUser) -> Profile:
    """The user's profile, created on first use."""
    profile, _ = Profile.objects.get_or_create(user=user)
    return profile


def get_prefs(request: HttpRequest) -> Prefs:
    """Preferences of whoever is asking."""
    if request.user.is_authenticated:
        p = profile_for(request.user)
        return Prefs(p.explicit_filter, p.advanced_mode, p.blind_mode, p.onboarded, p.confirmed_first_vote)
    return Prefs(**request.session.get(SESSION_KEY, {}))


def set_prefs(request: HttpRequest, **changes: bool) -> Prefs:
    """Change some preferences and store them where they belong."""
    prefs = get_prefs(request)
    for key, value in changes.items():
        setattr(prefs, key, bool(value))
    if request.user.is_authenticated:
        Profile.objects.filter(user=request.user).update(**changes)
    else:
        request.session[SESSION_KEY] = asdict(prefs)
    return prefs


def adopt_visitor_prefs(request: HttpRequest, user: AbstractBaseUser) -> None:
    """On sign-up, what a visitor chose (explicit filter, onboarding done) carries into their new profile."""
    visitor = request.session.get(SESSION_KEY)
    if not visitor:
        return
    profile = profile_for(user)
    for key in ("explicit_filter", "onboarded", "confirmed_first_vote"):
        if visitor.get(key):
            setattr(profile, key, True)
    profile.save()
