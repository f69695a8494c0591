"""The production stack (``featurepedia stack``: gunicorn, worker, inference) as a test fixture.

It runs on the test database that pytest-django made (so data a transactional test writes is what the
stack serves), on PostgreSQL only: ``make test`` runs the web and browser tests a second time with
FEATUREPEDIA_DATABASE_URL=postgres://..., and these fixtures skip in the SQLite pass. The inference process
serves the pool's tiny Llama (``tests.web.live_world``).

FEATUREPEDIA_TEST_REDIS_URL names the Redis database the stack may empty (default
redis://127.0.0.1:6379/14); FEATUREPEDIA_TEST_PORT a first port to use (the next one is inference's),
else free ports are picked.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from urllib.parse import quote

import pytest

from featurepedia.web.stack import Stack, start_stack

REDIS_URL = os.environ.get("FEATUREPEDIA_TEST_REDIS_URL", "redis://127.0.0.1:6379/14")
MODEL = "tiny-llama"


def free_ports(n: int) -> list[int]:
    base = os.environ.get("FEATUREPEDIA_TEST_PORT")
    if base:
        return [int(base) + i for i in range(n)]
    sockets = [socket.socket() for _ in range(n)]
    try:
        for s in sockets:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


def stack_database_url() -> str:
    """The URL of pytest-django's test database (PostgreSQL), or a skip."""
    from django.db import connection

    if connection.vendor != "postgresql":
        pytest.skip("the production stack runs on PostgreSQL; make test runs this in its PostgreSQL pass "
                    "(FEATUREPEDIA_DATABASE_URL=postgres://...)")
    d = connection.settings_dict
    auth = quote(d["USER"] or "") + (f":{quote(d['PASSWORD'])}" if d.get("PASSWORD") else "")
    return f"postgres://{auth}@{d['HOST'] or '127.0.0.1'}:{d['PORT'] or 5432}/{d['NAME']}"


def empty_redis() -> None:
    import redis

    redis.Redis.from_url(REDIS_URL).flushdb()


@pytest.fixture(scope="session")
def production_stack(django_db_setup, django_db_blocker, tmp_path_factory) -> Iterator[Stack]:
    """One stack for the session: 2 gunicorn workers of 4 threads, one task worker, tiny-llama inference."""
    with django_db_blocker.unblock():
        database_url = stack_database_url()
    empty_redis()
    web, inference = free_ports(2)
    data_dir = tmp_path_factory.mktemp("stack") / "data"
    stack = start_stack(database_url=database_url, redis_url=REDIS_URL, data_dir=data_dir, port=web,
                        inference_port=inference, model=MODEL, env={"FEATUREPEDIA_INFERENCE_TIMEOUT": "20"})
    yield stack
    stack.stop()
    empty_redis()


@pytest.fixture
def stack(production_stack: Stack) -> Iterator[Stack]:
    """The session's stack with an empty cache (a test's pages, sessions and rate counts start afresh)."""
    if production_stack.process.poll() is not None:
        pytest.fail(f"the production stack has stopped:\n{production_stack.log()[-3000:]}")
    empty_redis()
    yield production_stack
