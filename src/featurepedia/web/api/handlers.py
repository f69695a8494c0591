"""ninja's exceptions answered in the one JSON error shape, through web/errors.py's ``json_error``.

Every route's failure lands here: bad input (400, with the validation details), a write without a valid
key (401), what does not exist (404), too many requests (429, Retry-After added by ninja), our own
FeaturepediaError family (its status; a full inference queue adds Retry-After) and crashes (500, logged; the message reveals nothing inside).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from http import HTTPStatus
from typing import Any

from django.http import Http404, HttpRequest, HttpResponse
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, HttpError, Throttled, ValidationError

from featurepedia.errors import FeaturepediaError
from featurepedia.inference.service import QueueFullError
from featurepedia.web import errors
from featurepedia.web.api.identity import MISSING_KEY
from featurepedia.web.api.ratelimit import LIMIT_HIT, LimitHit
from featurepedia.web.explanations.services import ExplanationError

log = logging.getLogger("featurepedia.api")


def install(api: NinjaAPI) -> None:
    """Register the handlers (ninja picks the most specific class of the exception raised).

    Through the decorator form: ``add_exception_handler``'s annotation expects handlers that also accept
    exception classes.
    """
    api.exception_handler(FeaturepediaError)(_featurepedia_error)
    api.exception_handler(QueueFullError)(_queue_full)
    api.exception_handler(ExplanationError)(_explanation_error)
    api.exception_handler(Http404)(_not_found)
    api.exception_handler(ValidationError)(_validation_error)
    api.exception_handler(AuthenticationError)(_unauthorized)
    api.exception_handler(Throttled)(_throttled)
    api.exception_handler(HttpError)(_http_error)
    api.exception_handler(Exception)(_crash)


def _featurepedia_error(request: HttpRequest, exc: FeaturepediaError) -> HttpResponse:
    return errors.json_error(exc.message, exc.status)


def _queue_full(request: HttpRequest, exc: QueueFullError) -> HttpResponse:
    """503 with Retry-After: the inference queue is full, and the client should come back, not pile on."""
    response = errors.json_error(exc.message, exc.status)
    response["Retry-After"] = str(exc.retry_after)
    return response


def _explanation_error(request: HttpRequest, exc: ExplanationError) -> HttpResponse:
    return errors.json_error(str(exc), HTTPStatus.BAD_REQUEST)


def _not_found(request: HttpRequest, exc: Http404) -> HttpResponse:
    return errors.json_error(str(exc) or f"nothing at {request.path}; check the address", HTTPStatus.NOT_FOUND)


def _validation_error(request: HttpRequest, exc: ValidationError) -> HttpResponse:
    """400 (as Neuronpedia answers bad input) with one readable line per problem, and the details."""
    problems = [f"{_where(e.get('loc', ()))}: {e.get('msg', 'invalid')}" for e in exc.errors]
    message = "invalid request: " + "; ".join(problems) + "; see /api/docs for each route's parameters"
    details = [{"loc": list(e.get("loc", ())), "msg": e.get("msg", ""), "type": e.get("type", "")}
               for e in exc.errors]
    return errors.json_error(message, HTTPStatus.BAD_REQUEST, errors=details)


def _where(loc: Sequence[Any]) -> str:
    """("body", "body", "value") -> "body.value": ninja repeats the body parameter's name after "body"."""
    parts: list[str] = []
    for part in loc:
        if not parts or str(part) != parts[-1]:
            parts.append(str(part))
    return ".".join(parts) or "request"


def _unauthorized(request: HttpRequest, exc: AuthenticationError) -> HttpResponse:
    return errors.json_error(MISSING_KEY, HTTPStatus.UNAUTHORIZED)


def _throttled(request: HttpRequest, exc: Throttled) -> HttpResponse:
    hit = getattr(request, LIMIT_HIT, None)
    wait = max(1, round(exc.wait or 1))
    message = hit.message(wait) if isinstance(hit, LimitHit) else f"too many requests; retry in {wait} seconds"
    return errors.json_error(message, HTTPStatus.TOO_MANY_REQUESTS)


def _http_error(request: HttpRequest, exc: HttpError) -> HttpResponse:
    cause = exc.__cause__
    if isinstance(cause, ValueError):  # ninja's "Cannot parse request body" says neither what nor how to fix
        what = "is not valid UTF-8" if isinstance(cause, UnicodeDecodeError) else f"is not valid JSON ({cause})"
        return errors.json_error(f"the request body {what}; send a JSON object encoded in UTF-8",
                                 HTTPStatus.BAD_REQUEST)
    return errors.json_error(exc.message, exc.status_code)


def _crash(request: HttpRequest, exc: Exception) -> HttpResponse:
    from featurepedia.web.outage import database_unavailable, unavailable

    if database_unavailable(exc):  # not a crash: a 503 with Retry-After, the outage logged once
        return unavailable(request, exc)
    log.error("API request %s %s failed", request.method, request.path, exc_info=exc)
    return errors.server_error(request)
