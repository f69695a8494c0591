"""Redis going away: the site still serves, signed-in players stay signed in, the cache and the API's rate
limits carry on per process, it says so once in its logs, and the shared cache is used again when Redis is
back. The connection to Redis goes through a proxy the test cuts (the shared Redis keeps running)."""

from __future__ import annotations

import logging
import time

import pytest
from django.core.cache import cache
from django.test import Client
from django.urls import reverse

from featurepedia.settings import reset_settings
from tests.reliability.conftest import run_at_once

pytestmark = [pytest.mark.services, pytest.mark.django_db]


def _cache_logs(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "featurepedia.web.cache"]


def _wait_until_back(timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while cache.degraded and time.monotonic() < deadline:  # type: ignore[attr-defined]
        time.sleep(0.25)
        cache.get("probe")  # any call retries Redis once RETRY_AFTER has passed
    assert not cache.degraded, "the cache did not go back to Redis"  # type: ignore[attr-defined]


def test_the_site_serves_and_players_stay_signed_in_while_redis_is_away(world, redis_proxy, make_user, caplog,
                                                                        monkeypatch):
    player = Client()
    player.force_login(make_user("ann"))
    assert player.get(reverse("profile")).status_code == 200
    cache.set("before", 1)

    redis_proxy.cut()
    caplog.set_level(logging.WARNING, logger="featurepedia.web.cache")
    monkeypatch.setenv("FEATUREPEDIA_API_RATE_ANONYMOUS", "5")
    reset_settings()
    try:
        for _ in range(3):
            assert player.get(reverse("profile")).status_code == 200  # signed in: the session is in the database
            assert player.get("/tiny/1-mlp/0").status_code == 200
        ready = Client().get("/readyz")  # still ready (a load balancer keeps the host), and says it degraded
        assert ready.status_code == 200 and ready.json()["checks"]["cache"].startswith("degraded"), ready.json()
        played = player.get(reverse("play"), follow=True)
        assert played.status_code == 200  # the game's session state still works
        statuses = [Client().get("/api/campaigns").status_code for _ in range(7)]
        assert statuses[:5] == [200] * 5 and statuses[5:] == [429, 429]  # limits still count, in this process
    finally:
        monkeypatch.delenv("FEATUREPEDIA_API_RATE_ANONYMOUS")
        reset_settings()
    cache.set("during", 2)
    assert cache.get("during") == 2 and cache.degraded  # type: ignore[attr-defined]
    # Other threads of the process (each has its own cache object) share the fallback and the outage.
    seen = run_at_once(4, lambda i: (cache.get("during"), cache.degraded))  # type: ignore[attr-defined]
    assert seen == [(2, True)] * 4
    logged = _cache_logs(caplog)
    assert len(logged) == 1 and "unreachable" in logged[0], logged  # once, not per call

    redis_proxy.restore()
    _wait_until_back()
    assert "reachable again" in _cache_logs(caplog)[-1]
    assert cache.get("before") == 1  # the shared cache again
    assert cache.get("during") is None  # written during the outage, so dropped from Redis (never stale)
    assert player.get(reverse("profile")).status_code == 200


def test_a_session_changed_during_the_outage_is_not_served_stale_from_redis(world, redis_proxy):
    from django.contrib.sessions.backends.cached_db import SessionStore

    session = SessionStore()
    session["answers kept"] = 1  # e.g. a visitor's answers, kept until they sign up
    session.save()  # to the database, and a copy in Redis

    redis_proxy.cut()
    during = SessionStore(session.session_key)
    during["answers kept"] = 2
    during.save()  # the database has the new value; Redis, unreachable, still holds the old copy

    redis_proxy.restore()
    _wait_until_back()
    assert SessionStore(session.session_key).load()["answers kept"] == 2
