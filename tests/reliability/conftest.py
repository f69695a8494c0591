"""Fixtures for the reliability tests: the web tests' world, PostgreSQL for the concurrency tests, threads.

Tests marked ``services`` run against the machine's PostgreSQL (and Redis): ``make test`` runs this folder
with ``FEATUREPEDIA_DATABASE_URL`` pointing at PostgreSQL, because SQLite serialises every write and so
cannot show a race. Connections to those servers that a test needs to cut go through a TCP proxy the test
controls (proxy.py); the servers themselves are never stopped.
"""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection, connections

from tests.web.conftest import api_key, fresh_cache, make_user, no_embeddings, world  # noqa: F401

# Redis database of these tests (emptied by them); override it where database 14 is taken.
REDIS_URL = os.environ.get("FEATUREPEDIA_TEST_REDIS_URL", "redis://127.0.0.1:6379/14")


@pytest.fixture(autouse=True)
def _postgres_for_services(request: pytest.FixtureRequest) -> None:
    if request.node.get_closest_marker("services") is None or "db" not in request.fixturenames \
            and "transactional_db" not in request.fixturenames:
        return
    if connection.vendor != "postgresql":
        pytest.fail("the reliability tests marked services need PostgreSQL: run them with "
                    "FEATUREPEDIA_DATABASE_URL=postgres://root@127.0.0.1:5432/test", pytrace=False)


def run_at_once(n: int, action: Callable[[int], Any], timeout: float = 120.0) -> list[Any]:
    """Run ``action(i)`` for i in 0..n-1 on n threads released together; returns results (or exceptions).

    Each thread has its own database connection (Django's are per thread), closed when it ends.
    """
    barrier = threading.Barrier(n)
    results: list[Any] = [None] * n

    def run(i: int) -> None:
        try:
            barrier.wait(timeout=timeout)
            results[i] = action(i)
        except BaseException as err:  # reported to the test, which asserts on it
            results[i] = err
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(i,), daemon=True) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout)
    stuck = [i for i, t in enumerate(threads) if t.is_alive()]
    assert not stuck, f"{len(stuck)} of {n} threads still running after {timeout} s"
    return results


def free_port(start: int = 18210, stop: int = 18300) -> int:
    """A free local port in this project's test range (18200-18299)."""
    import socket

    for port in range(start, stop):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError(f"no free port in {start}-{stop - 1}")


@pytest.fixture
def db_proxy(transactional_db):
    """The test's database connection, rerouted through a CuttableProxy (yielded) to the real PostgreSQL."""
    from tests.reliability.proxy import CuttableProxy

    settings_dict = connection.settings_dict
    original = (settings_dict["HOST"], settings_dict["PORT"])
    proxy = CuttableProxy((original[0] or "127.0.0.1", int(original[1] or 5432)), free_port()).start()
    connection.close()
    settings_dict["HOST"], settings_dict["PORT"] = "127.0.0.1", str(proxy.port)
    try:
        yield proxy
    finally:
        proxy.restore()
        connection.close()
        settings_dict["HOST"], settings_dict["PORT"] = original
        proxy.stop()


@pytest.fixture
def redis_proxy(settings):
    """The cache (and session copies) on Redis through a CuttableProxy (yielded), on this suite's database."""
    from urllib.parse import urlsplit

    import redis
    from django.core.cache import caches

    from featurepedia.web.cache import _STATES
    from featurepedia.web.settings import caches_for
    from tests.reliability.proxy import CuttableProxy

    parts = urlsplit(REDIS_URL)
    proxy = CuttableProxy((parts.hostname or "127.0.0.1", parts.port or 6379), free_port()).start()
    direct = redis.Redis.from_url(REDIS_URL)
    direct.flushdb()
    settings.CACHES = caches_for(f"redis://127.0.0.1:{proxy.port}{parts.path}")
    settings.CACHES["default"]["OPTIONS"] = {"RETRY_AFTER": 0.2}
    settings.SESSION_ENGINE = "django.contrib.sessions.backends.cached_db"
    caches.close_all()
    _STATES.clear()  # what this process knew of Redis (a proxy may reuse an earlier test's port)
    try:
        yield proxy
    finally:
        proxy.restore()
        caches.close_all()
        _STATES.clear()
        direct.flushdb()
        proxy.stop()


@pytest.fixture
def stack(transactional_db, tmp_path, settings):
    """A factory: start the production stack (web + inference, and a task worker) on the test database.

    The test process signs with the stack's secret key, so sessions it makes (force_login) are valid there.
    """
    import redis

    from tests.reliability.stack import SECRET, ProductionSite, database_url

    settings.SECRET_KEY = SECRET
    started: list[ProductionSite] = []

    def start(web_workers: int = 2, task_workers: int = 1, database: str = "", redis_url: str = "",
              **env: str) -> ProductionSite:
        """``database`` and ``redis_url`` default to the test database and this suite's Redis."""
        redis.Redis.from_url(REDIS_URL).flushdb()
        web_port = free_port(18250)
        inference_port = free_port(web_port + 1)
        site = ProductionSite(
            database or database_url(connection.settings_dict), redis_url or REDIS_URL, tmp_path / "data",
            (web_port, inference_port, free_port(inference_port + 1)),
            {"FEATUREPEDIA_SECRET_KEY": SECRET, "FEATUREPEDIA_EMAIL_VERIFICATION": "none",
             "FEATUREPEDIA_TASK_POLL_INTERVAL": "0.2", "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false",
             "PYTHONPATH": os.pathsep.join(sys.path), **env}, web_workers=web_workers)
        started.append(site)
        for _ in range(task_workers):
            site.start_worker()
        site.start_web()
        return site

    yield start
    for site in started:
        site.stop()
    if started:
        redis.Redis.from_url(REDIS_URL).flushdb()
    connections.close_all()


@pytest.fixture
def server_proxies():
    """CuttableProxies to the real PostgreSQL and Redis (for a stack to use; the test's own connection is direct)."""
    from urllib.parse import urlsplit

    from tests.reliability.proxy import CuttableProxy

    settings_dict = connection.settings_dict
    pg = CuttableProxy((settings_dict["HOST"] or "127.0.0.1", int(settings_dict["PORT"] or 5432)),
                       free_port(18220)).start()
    parts = urlsplit(REDIS_URL)
    rd = CuttableProxy((parts.hostname or "127.0.0.1", parts.port or 6379), free_port(pg.port + 1)).start()
    try:
        yield pg, rd
    finally:
        pg.stop()
        rd.stop()
