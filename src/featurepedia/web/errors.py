"""The one place a web request's error becomes a response.

A :class:`~featurepedia.errors.FeaturepediaError` raised in a view answers with its status: for the API
(paths under ``/api/``) as the one JSON error shape ``{"ok": false, "error": message, "status": N}``, for
pages as an HTML error page. Unknown API addresses and crashes answer in the same JSON shape, because API
clients parse JSON; pages keep Django's own 404 and 500 pages. The API's own exception handlers (bad input,
missing key, rate limit) answer through :func:`json_error` too, and any other error response under
``/api/`` that is not JSON (a 405 for the wrong method) is rewritten into the shape on its way out.
"""

from __future__ import annotations

from collections.abc import Callable
from http import HTTPStatus

from django.core.exceptions import RequestDataTooBig
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse, UnreadablePostError
from django.http.multipartparser import MultiPartParserError
from django.utils.html import escape
from django.views import defaults

from featurepedia.errors import FeaturepediaError

API_PREFIX = "/api/"


def is_api(request: HttpRequest) -> bool:
    """Whether the request is for the API (whose clients expect JSON, errors included)."""
    return request.path_info.startswith(API_PREFIX) or request.path_info == API_PREFIX.rstrip("/")


def error_body(message: str, status: int, **extra: object) -> dict[str, object]:
    """The JSON error shape of every API error (``extra`` adds fields, such as validation details)."""
    return {"ok": False, "error": message, "status": status, **extra}


def json_error(message: str, status: int, **extra: object) -> JsonResponse:
    return JsonResponse(error_body(message, status, **extra), status=status)


class FeaturepediaErrorMiddleware:
    """Answers a FeaturepediaError raised by a view with its status, as JSON for the API, else as HTML."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        refused = _nul_parameter(request)
        if refused is not None:
            return self._answer(request, refused)
        response = self.get_response(request)
        if response.status_code >= 400 and is_api(request) and not _is_json(response):
            return _as_json_error(request, response)
        return response

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if not isinstance(exception, FeaturepediaError):
            return None  # Django's own handling (Http404, PermissionDenied, a crash's 500)
        return self._answer(request, exception)

    @staticmethod
    def _answer(request: HttpRequest, exception: FeaturepediaError) -> HttpResponse:
        if is_api(request):
            return json_error(exception.message, exception.status)
        if exception.status == HTTPStatus.NOT_FOUND:
            return not_found(request, Http404(exception.message))
        title = f"{_phrase(exception.status)} ({exception.status})"
        return HttpResponse(defaults.ERROR_PAGE_TEMPLATE % {"title": title, "details": escape(exception.message)},
                            status=exception.status)


def _nul_parameter(request: HttpRequest) -> FeaturepediaError | None:
    """A 400 for a query parameter or form field holding a NUL: no field of the site can use one, and
    the database cannot store or even compare with one (PostgreSQL refuses it in text)."""
    fields = [("query parameter", request.GET)]
    if request.method == "POST" and request.content_type in ("application/x-www-form-urlencoded",
                                                             "multipart/form-data"):
        try:
            fields.append(("form field", request.POST))
        except (MultiPartParserError, RequestDataTooBig, UnreadablePostError):
            pass  # left to the view, which answers a body it cannot read as before (in the API, in its shape)
    for kind, data in fields:
        for name, values in data.lists():
            if "\x00" in name or any("\x00" in v for v in values):
                shown = name.replace("\x00", "%00")[:40]
                return FeaturepediaError(f"The {kind} {shown!r} contains a NUL character (%00), which no field "
                                         "accepts; remove it and send the request again.")
    return None


def not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    """``handler404``: the JSON shape for the API, Django's 404 page for the rest.

    An API view says what is missing with a NotFoundError (answered by the middleware, with its message);
    a 404 that gets here is an address no API view serves (the catalog's ``/{model}/`` pages also match
    ``/api/...``, so their own "no such model" message would mislead).
    """
    if not is_api(request):
        return defaults.page_not_found(request, exception)
    return json_error(f"no API endpoint at {request.path}; check the address", HTTPStatus.NOT_FOUND)


def server_error(request: HttpRequest) -> HttpResponse:
    """``handler500``: a 503 for a database outage (web/outage.py), else the JSON shape for the API and
    Django's 500 page for the rest."""
    from featurepedia.web.outage import unavailable_from_handler

    outage = unavailable_from_handler(request)
    if outage is not None:
        return outage
    if not is_api(request):
        return defaults.server_error(request)
    return json_error("internal server error; try again later, and report it if it persists",
                      HTTPStatus.INTERNAL_SERVER_ERROR)


def _is_json(response: HttpResponse) -> bool:
    return response.get("Content-Type", "").startswith("application/json")


def _as_json_error(request: HttpRequest, response: HttpResponse) -> HttpResponse:
    """An error response some framework code made as text or HTML (e.g. a 405), in the JSON shape."""
    status = response.status_code
    if status == HTTPStatus.METHOD_NOT_ALLOWED:
        message = f"{request.method} is not allowed at {request.path}; use {response.get('Allow', 'another method')}"
    else:
        message = f"{_phrase(status)} at {request.path}"
    converted = json_error(message, status)
    for header in ("Allow", "Retry-After"):
        if header in response:
            converted[header] = response[header]
    return converted


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"
