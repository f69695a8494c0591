"""Health checks for process managers and load balancers: ``/healthz`` (alive) and ``/readyz`` (can serve).

``/healthz`` touches nothing but the process itself, so a database outage never makes a process manager
restart healthy web processes. ``/readyz`` checks what a request needs: the database, the cache and the
inference service, each with a short timeout, and answers 503 naming what is down, so a load balancer
stops sending players to a host that would fail them.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

import httpx
from django.core.cache import cache
from django.db import connection
from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from featurepedia.settings import get_settings

log = logging.getLogger(__name__)
INFERENCE_TIMEOUT_S = 2.0


@never_cache
@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    """Liveness: the process answers requests."""
    return JsonResponse({"ok": True})


def check_database() -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()
    return "ok"


def check_cache() -> str:
    key = "readyz:probe"
    cache.set(key, 1, timeout=10)
    if cache.get(key) != 1:
        raise RuntimeError("a value written to the cache did not read back")
    return "ok"


def check_inference() -> str:
    url = get_settings().inference_url
    if not url:
        return "ok (in-process)"
    response = httpx.get(url.rstrip("/") + "/healthz", timeout=INFERENCE_TIMEOUT_S, trust_env=False)
    if response.status_code != 200:
        raise RuntimeError(f"{url}/healthz answered {response.status_code}")
    return "ok"


CHECKS: dict[str, Callable[[], str]] = {"database": check_database, "cache": check_cache,
                                         "inference": check_inference}


@never_cache
@require_GET
def readyz(request: HttpRequest) -> JsonResponse:
    """Readiness: 200 when the database, the cache and the inference service answer; else 503 with
    ``{"ok": false, "down": [names], "checks": {name: result}}``."""
    checks: dict[str, str] = {}
    down: list[str] = []
    for name, check in CHECKS.items():
        start = time.monotonic()
        try:
            checks[name] = check()
        except Exception as err:  # any failure of a dependency means "not ready", with its reason
            checks[name] = f"down: {type(err).__name__}: {err}"
            down.append(name)
            log.warning("readyz: %s is down (%s, after %.1f s)", name, err, time.monotonic() - start)
    if "database" in down:
        connection.close()  # a broken connection is not given to the next request
    body = {"ok": not down, "down": down, "checks": checks}
    return JsonResponse(body, status=503 if down else 200)
