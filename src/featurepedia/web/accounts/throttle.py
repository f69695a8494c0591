"""Login brute force: every password form goes through allauth's failed-login limit.

allauth counts failed sign-ins per client address and per account (``ACCOUNT_RATE_LIMITS["login_failed"]``,
by default 10 a minute per address and 5 per 5 minutes per account) in the cache, and refuses further
attempts, right password included, until the window passes. Its sign-in page does this itself; the Django
admin's login form calls Django's ``authenticate`` directly, so it is given a form that asks allauth's
adapter instead: guessing an admin's password is throttled the same way, in the same counters.

The client address is the socket's, or behind a reverse proxy (``FEATUREPEDIA_PUBLIC_URL`` set) the last
``X-Forwarded-For`` entry, the one the proxy appended (``ALLAUTH_TRUSTED_PROXY_COUNT``); entries a client
sends itself are never trusted, or anyone could pick a fresh address for every guess.
"""

from __future__ import annotations

from typing import Any

from allauth.account.adapter import get_adapter
from django.contrib.admin.forms import AdminAuthenticationForm


class ThrottledAdminLoginForm(AdminAuthenticationForm):
    """The admin's login form, authenticating through allauth's adapter (and so its failed-login limit)."""

    def clean(self) -> dict[str, Any]:
        username, password = self.cleaned_data.get("username"), self.cleaned_data.get("password")
        if username is not None and password:
            # Raises a ValidationError ("Too many failed login attempts") once the limit is reached.
            self.user_cache = get_adapter(self.request).authenticate(self.request, username=username,
                                                                     password=password)
            if self.user_cache is None:
                raise self.get_invalid_login_error()
            self.confirm_login_allowed(self.user_cache)
        return self.cleaned_data
