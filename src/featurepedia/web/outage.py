"""The database going away: every request answers a clean 503 with Retry-After until it is back.

A lost database (restarted, failed over, network cut) raises ``OperationalError`` or ``InterfaceError`` from
wherever the request touched it: a view, the session or user lookup, a template. Instead of a 500 page and a
traceback per request, the site answers 503 Service Unavailable with ``Retry-After`` (the API's JSON error
shape under ``/api/``, a small page that needs no database elsewhere) and logs the outage once; the first
request that succeeds afterwards logs that the database is back. Nothing needs restarting: Django drops a
broken connection at the end of the request, and the next request connects again.
"""

from __future__ import annotations

import logging
import sys
import threading
from collections.abc import Callable
from http import HTTPStatus

from django.db.utils import InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse

from featurepedia.web.errors import is_api, json_error

log = logging.getLogger(__name__)

RETRY_AFTER_S = 5
PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="refresh" content="{retry}"><title>Featurepedia is briefly unavailable</title></head>
<body>
<h1>Back in a moment</h1>
<p>Featurepedia cannot reach its database right now. Nothing you saved is lost; this page tries again by
itself in {retry} seconds.</p></body></html>
"""


def database_unavailable(exc: BaseException | None) -> bool:
    """Whether ``exc`` means the database cannot be reached (as opposed to a bug or bad data)."""
    if isinstance(exc, OperationalError | InterfaceError):
        return True
    # A connection pool that cannot hand out a connection in time is the same outage seen from the pool.
    return type(exc).__name__ == "PoolTimeout"


class _Outage:
    """Whether this process currently sees the database as down, so the outage is logged once."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.down = False

    def started(self, exc: BaseException) -> None:
        with self._lock:
            if self.down:
                return
            self.down = True
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        log.error("the database is unreachable (%s): answering 503 with Retry-After until it is back", first)

    def ended(self) -> None:
        with self._lock:
            if not self.down:
                return
            self.down = False
        log.warning("the database is reachable again: serving normally")


OUTAGE = _Outage()


def unavailable(request: HttpRequest, exc: BaseException) -> HttpResponse:
    """The 503 answer to a request that met a database outage."""
    OUTAGE.started(exc)
    if is_api(request):
        response: HttpResponse = json_error(
            f"the database is unreachable; nothing was changed by this request, retry in {RETRY_AFTER_S} seconds",
            HTTPStatus.SERVICE_UNAVAILABLE)
    else:
        response = HttpResponse(PAGE.format(retry=RETRY_AFTER_S), status=HTTPStatus.SERVICE_UNAVAILABLE)
    response["Retry-After"] = str(RETRY_AFTER_S)
    response["Cache-Control"] = "no-store"
    response._has_been_logged = True  # logged once per outage, not per request
    return response


def unavailable_from_handler(request: HttpRequest) -> HttpResponse | None:
    """For ``handler500``: the 503 answer if the exception being handled is a database outage, else None."""
    exc = sys.exc_info()[1]
    return unavailable(request, exc) if exc is not None and database_unavailable(exc) else None


class DatabaseOutageMiddleware:
    """Answers a view's database outage with 503 and notes when requests succeed again.

    Outages met outside views (session and user lookups in other middleware) reach ``handler500``, which
    answers the same way through :func:`unavailable_from_handler`.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if OUTAGE.down and response.status_code < 500:
            OUTAGE.ended()
        return response

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        return unavailable(request, exception) if database_unavailable(exception) else None
