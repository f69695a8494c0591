"""Rendered parts of pages kept in Django's cache (Redis in production, process memory when embedded).

A feature's clues are the same for every visitor with the same text filters, and rendering them is most of
a feature page's cost. What is cached is keyed by everything it shows, so nothing is ever deleted on a
change: a rebuild or import of the source saves the Source row (``updated`` moves), a change of the markup
(an upgrade: any template or static file, whose hashed names the pages link) changes ``code_stamp()``, and
what players write is stamped by a query (``feature_activity``). Old entries
just stop being asked for and expire. This holds across processes (a ``featurepedia build`` or ``score``
beside ``serve``, several web workers) because nothing depends on a process seeing a signal.
"""

from __future__ import annotations

import functools
import hashlib
import re
import secrets
import struct
import zlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.middleware.csrf import CsrfViewMiddleware, get_token
from django.urls import Resolver404, resolve
from django.utils.cache import patch_vary_headers
from django.utils.safestring import SafeString, mark_safe

DISPLAY_VERSION = 1  # bump when what a cached part holds changes shape (code_stamp covers templates and files)
TIMEOUT_S = 7 * 24 * 3600
# A whole page shared by visitors is also keyed by stamps, but author names and the like are not in them: it
# lives this long at most.
SHARED_PAGE_TIMEOUT_S = 30
T = TypeVar("T")
_MISSING = object()


@functools.cache
def code_stamp() -> str:
    """A digest of the web package's templates and static files and of the package version: an upgrade
    changes it, so pages cached by the old code (in a Redis that outlives the processes) are not served by
    the new one, with its new markup and hashed file names. Read once per process (a few hundred files)."""
    from featurepedia import __version__

    return files_digest(Path(__file__).resolve().parent.parent, __version__)


def files_digest(web: Path, version: str) -> str:
    """The digest of :func:`code_stamp` over the templates and static files under ``web``."""
    digest = hashlib.blake2b(version.encode(), digest_size=8)
    for path in sorted(p for pattern in ("**/templates/**/*", "static/**/*") for p in web.glob(pattern)
                       if p.is_file()):
        digest.update(str(path.relative_to(web)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def key(kind: str, parts: Iterable[object]) -> str:
    """A cache key for ``kind`` from the values the markup depends on (hashed: keys stay short and plain)."""
    raw = "\x1f".join(str(p) for p in parts)
    return (f"page:{DISPLAY_VERSION}.{code_stamp()}:{kind}:"
            f"{hashlib.blake2b(raw.encode(), digest_size=16).hexdigest()}")


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


# The per-visitor CSRF token appears in forms and in the page's htmx headers (``X-CSRFToken``).
# Both only ever come from templates: text of users is escaped (its quotes are &quot;), so it cannot match.
_TOKEN = re.compile(r'(name="csrfmiddlewaretoken" value="|"X-CSRFToken": ")[A-Za-z0-9]{32,64}')
_SLOT = "\x00csrf\x00"
_SHARED: dict[str, Callable[..., tuple | None]] = {}  # URL name -> (URL kwargs -> the page's stamps, or None)
# Response headers a shared page keeps (the policy and framing headers the inner middleware set on it).
_KEPT_HEADERS = {"content-type", "content-security-policy", "content-security-policy-report-only",
                 "x-frame-options", "content-language"}


def register_shared_page(url_name: str, parts: Callable[..., tuple | None]) -> None:
    """Let the page of ``url_name`` be shared by first-time visitors (see ``SharedPageMiddleware``).

    ``parts(**url_kwargs)`` returns every value the page shows that can change (stamps, as for ``cached``),
    or None when the page must not be shared (it does not exist, for one). A page shown to a first-time
    visitor must hold nothing of that visitor but the CSRF token."""
    if url_name in _SHARED:
        raise ValueError(f"shared page {url_name!r} is already registered")
    _SHARED[url_name] = parts


def shareable(request: HttpRequest) -> bool:
    """A request any first-time visitor could have made: a GET with no query, no session and no messages
    (so no login, preferences, drafts or notices: the page holds nothing of one visitor but its CSRF token)."""
    return (request.method == "GET" and not request.META.get("QUERY_STRING")
            and settings.SESSION_COOKIE_NAME not in request.COOKIES and "messages" not in request.COOKIES)


@dataclass
class SharedPage:
    """A rendered page in the cache: its status and headers, its text cut where CSRF tokens go, and each cut
    compressed once (raw deflate, flushed to a byte boundary) so a gzip answer is put together per visitor
    without compressing the page again."""

    status: int
    headers: list[tuple[str, str]]
    parts: list[bytes]
    deflated: list[bytes]

    @classmethod
    def of(cls, response: HttpResponse) -> SharedPage:
        text = response.content.decode(response.charset or "utf-8")
        parts = [p.encode() for p in _TOKEN.sub(lambda m: m.group(1) + _SLOT, text).split(_SLOT)]
        headers = [(k, v) for k, v in response.items() if k.lower() in _KEPT_HEADERS]
        return cls(response.status_code, headers, parts, [_deflate(p) for p in parts])

    @classmethod
    def whole(cls, response: HttpResponse) -> SharedPage:
        """A response with no CSRF token in it (an API answer), kept as it is."""
        headers = [(k, v) for k, v in response.items() if k.lower() in _KEPT_HEADERS]
        return cls(response.status_code, headers, [response.content], [_deflate(response.content)])

    def response(self, token: str, gzip: bool) -> HttpResponse:
        if gzip:
            body = gzipped(self.parts, self.deflated, token.encode())
        else:
            body = token.encode().join(self.parts)
        response = HttpResponse(body, status=self.status)
        response["Content-Length"] = str(len(body))
        for k, v in self.headers:
            response[k] = v
        if gzip:
            response["Content-Encoding"] = "gzip"
        patch_vary_headers(response, ("Accept-Encoding", "Cookie") if len(self.parts) > 1 else ("Accept-Encoding",))
        return response


def _deflate(data: bytes) -> bytes:
    """``data`` as raw deflate blocks, none final, ending on a byte boundary (so they can be concatenated)."""
    z = zlib.compressobj(6, zlib.DEFLATED, -15)
    return z.compress(data) + z.flush(zlib.Z_SYNC_FLUSH)


_LAST_BLOCK = zlib.compressobj(6, zlib.DEFLATED, -15).flush(zlib.Z_FINISH)  # an empty final block


def gzipped(parts: list[bytes], deflated: list[bytes], token: bytes) -> bytes:
    """The gzip file of ``token.join(parts)`` from the parts' deflated forms and the token deflated on its own.

    The token is compressed apart from the rest (no back-references into the page), and the header carries
    random padding as Django's GZipMiddleware does: compression leaks nothing of it (BREACH)."""
    crc, size = 0, 0
    tok = _deflate(token)
    out = [b""]
    for i, (part, packed) in enumerate(zip(parts, deflated, strict=True)):
        if i:
            crc, size = zlib.crc32(token, crc), size + len(token)
            out.append(tok)
        crc, size = zlib.crc32(part, crc), size + len(part)
        out.append(packed)
    pad = secrets.token_hex(secrets.randbelow(50) + 1).encode()  # a random file name, as Django pads
    out[0] = b"\x1f\x8b\x08\x08\x00\x00\x00\x00\x00\xff" + pad + b"\x00"
    out.append(_LAST_BLOCK)
    out.append(struct.pack("<II", crc & 0xFFFFFFFF, size & 0xFFFFFFFF))
    return b"".join(out)


class SharedPageMiddleware:
    """Serves the pages registered with ``register_shared_page`` to first-time visitors from the cache, before
    sessions, authentication, CSRF, templates and compression: the page's stamps are read (a few queries),
    and a cached copy with the same stamps is sent with this visitor's CSRF token (and cookie) put in.

    Goes right after WhiteNoise in MIDDLEWARE (outside GZipMiddleware: it compresses what it sends itself).
    A page not in the cache is rendered by the rest of the stack as usual and kept, uncompressed, for
    ``SHARED_PAGE_TIMEOUT_S`` at most (author names and the like are not in the stamps).
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response
        self.csrf = CsrfViewMiddleware(get_response)

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        if not _SHARED or not shareable(request):
            return self.get_response(request)
        try:
            match = resolve(request.path_info)
        except Resolver404:
            return self.get_response(request)
        parts_of = _SHARED.get(match.url_name or "")
        stamps = parts_of(**match.kwargs) if parts_of is not None else None
        if stamps is None:
            return self.get_response(request)
        k = key("shared-page", [request.get_host(), request.scheme, request.path, *stamps])
        page = cache.get(k)
        if page is None:
            # Rendered uncompressed (GZipMiddleware comes after this one), to be cut and compressed once here.
            encoding = request.META.pop("HTTP_ACCEPT_ENCODING", None)
            response = self.get_response(request)
            if encoding is not None:
                request.META["HTTP_ACCEPT_ENCODING"] = encoding
            if (response.status_code != 200 or response.streaming or response.has_header("Content-Encoding")
                    or settings.SESSION_COOKIE_NAME in response.cookies or "messages" in response.cookies
                    or not isinstance(response, HttpResponse)):
                return response
            page = SharedPage.of(response)
            cache.set(k, page, SHARED_PAGE_TIMEOUT_S)
            sent = page.response(_token(response), _accepts_gzip(request))
            for name, morsel in response.cookies.items():
                sent.cookies[name] = morsel
            return sent
        self.csrf.process_request(request)  # this visitor's CSRF secret, from their cookie (or a new one)
        sent = page.response(get_token(request), _accepts_gzip(request))
        return self.csrf.process_response(request, sent)  # sets or renews the CSRF cookie, as rendering does


def _token(response: HttpResponse) -> str:
    """The CSRF token the page was rendered with (the visitor's own), or "" for a page without forms."""
    found = _TOKEN.search(response.content.decode(response.charset or "utf-8"))
    return found.group(0)[len(found.group(1)):] if found else ""


_GZIP = re.compile(r"\bgzip\b")


def _accepts_gzip(request: HttpRequest) -> bool:
    return bool(_GZIP.search(request.META.get("HTTP_ACCEPT_ENCODING", "")))


def cached_response(request: HttpRequest, kind: str, parts: Iterable[object],
                    render: Callable[[], HttpResponse]) -> HttpResponse:
    """``render()``'s answer (the same for everyone, with no CSRF token: an API read), from the cache when it
    holds it for these parts, compressed once rather than per request. Only 200s are kept."""
    k = key(kind, parts)
    page = cache.get(k)
    if page is None:
        response = render()
        if response.status_code != 200 or response.streaming or response.has_header("Content-Encoding"):
            return response
        page = SharedPage.whole(response)
        cache.set(k, page, TIMEOUT_S)
    return page.response("", _accepts_gzip(request))
