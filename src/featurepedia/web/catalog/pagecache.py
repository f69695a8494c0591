"""Rendered parts of pages kept in Django's cache (Redis in production, process memory when embedded).

A feature's clues are the same for every visitor with the same text filters, and rendering them is most of
a feature page's cost. What is cached is keyed by everything it shows, so nothing is ever deleted on a
change: a rebuild or import of the source saves the Source row (``updated`` moves), a change of the markup
bumps ``DISPLAY_VERSION``, and what players write is stamped by a query (``feature_activity``). Old entries
just stop being asked for and expire. This holds across processes (a ``featurepedia build`` or ``score``
beside ``serve``, several web workers) because nothing depends on a process seeing a signal.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Iterable
from typing import TypeVar

from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest, HttpResponse
from django.middleware.csrf import get_token
from django.utils.safestring import SafeString, mark_safe

DISPLAY_VERSION = 1  # bump when the markup of a cached part changes
TIMEOUT_S = 7 * 24 * 3600
# A whole page shared by visitors is also keyed by stamps, but author names and the like are not in them: it
# lives this long at most.
SHARED_PAGE_TIMEOUT_S = 30
T = TypeVar("T")
_MISSING = object()


def key(kind: str, parts: Iterable[object]) -> str:
    """A cache key for ``kind`` from the values the markup depends on (hashed: keys stay short and plain)."""
    raw = "\x1f".join(str(p) for p in parts)
    return f"page:{DISPLAY_VERSION}:{kind}:{hashlib.blake2b(raw.encode(), digest_size=16).hexdigest()}"


def cached(kind: str, parts: Iterable[object], compute: Callable[[], T]) -> T:
    """What ``compute`` returns (anything that pickles), from the cache when it holds it for these parts."""
    k = key(kind, parts)
    value = cache.get(k, _MISSING)
    if value is _MISSING:
        value = compute()
        cache.set(k, value, TIMEOUT_S)
    return value


def cached_html(kind: str, parts: Iterable[object], render: Callable[[], str]) -> SafeString:
    """The markup ``render`` makes (it must be safe HTML), from the cache when it holds it for these parts."""
    return mark_safe(cached(kind, parts, lambda: str(render())))  # rendered by our templates, escaped there


_TOKEN = re.compile(r'(name="csrfmiddlewaretoken" value=")[^"]+(")')
_SLOT = "\x00csrf\x00"


def shareable(request: HttpRequest) -> bool:
    """A request any first-time visitor could have made: a GET with no query, no session and no login.

    Its page holds nothing of one visitor but the forms' CSRF tokens (no preferences, messages or drafts)."""
    return (request.method == "GET" and not request.GET and settings.SESSION_COOKIE_NAME not in request.COOKIES
            and not request.user.is_authenticated)


def shared_page(request: HttpRequest, kind: str, parts: Iterable[object],
                render: Callable[[], HttpResponse]) -> HttpResponse:
    """``render()``'s page, from the cache when a visitor could share it (see ``shareable``); the forms'
    CSRF tokens are this request's own."""
    if not shareable(request):
        return render()
    k = key(kind, [request.path, *parts])
    html = cache.get(k)
    if html is not None:
        token = get_token(request)  # also sets this visitor's CSRF cookie, as rendering a form does
        return HttpResponse(html.replace(_SLOT, token))
    response = render()
    if response.status_code == 200 and not response.streaming and not response.cookies.get(settings.SESSION_COOKIE_NAME):
        cache.set(k, _TOKEN.sub(lambda m: m.group(1) + _SLOT + m.group(2), response.content.decode()),
                  SHARED_PAGE_TIMEOUT_S)
    return response
