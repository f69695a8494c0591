"""Where a form sends the player back to: the one check on a posted ``next`` address."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponseRedirect
from django.shortcuts import redirect
from django.utils.http import url_has_allowed_host_and_scheme


def redirect_back(request: HttpRequest, fallback: str) -> HttpResponseRedirect:
    """To the posted ``next`` when it is an address on this site, else to ``fallback``.

    An off-site ``next`` (``https://evil.example/``, ``//evil.example``) is never followed: a link that
    posts one would otherwise send a player from this site to any other. Only a path (``/...``) or an
    address of this site is taken as an address; anything else (it could be a view name to ``redirect``)
    falls back, as does one with control characters.
    """
    target = request.POST.get("next") or ""
    if (target.startswith("/") or target.startswith(("http://", "https://"))) and not any(
            ord(c) < 32 or ord(c) == 127 for c in target) and url_has_allowed_host_and_scheme(
            target, {request.get_host()}, request.is_secure()):
        return HttpResponseRedirect(target)
    return redirect(fallback)
