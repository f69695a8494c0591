"""The API's URLs: ninja's routes, each also with a trailing slash, then a catch-all for the rest of /api/.

ninja matches paths exactly, and Neuronpedia's client adds a slash to some (``/api/steer/``), so every route
gets a twin ending in "/" here, outside the OpenAPI schema. The catch-all answers unknown API addresses in
the JSON error shape; it also keeps Django's APPEND_SLASH from redirecting a POST to ``/api/x`` (a 301 that
clients follow as a GET) because an address under /api/ always resolves.
"""

from __future__ import annotations

from django.http import Http404, HttpRequest, HttpResponse
from django.urls import URLPattern, URLResolver, include, path, re_path
from django.views.decorators.csrf import csrf_exempt

from featurepedia.web.api.app import api
from featurepedia.web.errors import not_found


def _with_slashes(patterns: list[URLPattern | URLResolver]) -> list[URLPattern | URLResolver]:
    twins: list[URLPattern | URLResolver] = []
    for p in patterns:
        route = str(p.pattern)
        if isinstance(p, URLPattern) and route and not route.endswith("/"):
            twins.append(path(route + "/", p.callback, p.default_args))
    return [*patterns, *twins]


@csrf_exempt  # an API client posting to a wrong address must learn it is unknown, not that CSRF failed
def unknown(request: HttpRequest, rest: str = "") -> HttpResponse:
    return not_found(request, Http404())


# Not unpacked into module names: an ``app_name`` here would make Django namespace the whole module.
_ninja = api.urls
urlpatterns = [
    path("", include((_with_slashes(_ninja[0]), _ninja[1]), namespace=_ninja[2])),
    re_path(r"^(?P<rest>.*)$", unknown),
]
