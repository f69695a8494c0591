"""Production wiring over real services: the Redis cache shared by web processes, sessions through it."""

from __future__ import annotations

import pytest
import redis
from django.core.cache import caches
from django.urls import reverse

from featurepedia.settings import Settings, SettingsError
from featurepedia.web.settings import caches_for

pytestmark = pytest.mark.django_db

REDIS_URL = "redis://127.0.0.1:6379/15"  # a database of its own, emptied by the tests


@pytest.fixture
def redis_cache(settings):
    server = redis.Redis.from_url(REDIS_URL)
    server.flushdb()
    settings.CACHES = caches_for(REDIS_URL)
    settings.SESSION_ENGINE = "django.contrib.sessions.backends.cached_db"
    caches.close_all()
    yield server
    server.flushdb()
    caches.close_all()


@pytest.mark.services
def test_the_cache_is_shared_through_redis(redis_cache):
    caches["default"].set("answer", 42, timeout=60)
    assert redis_cache.dbsize() == 1 and b"featurepedia" in redis_cache.keys()[0]
    # Another process (a fresh connection) sees the value.
    caches.close_all()
    assert caches["default"].get("answer") == 42


@pytest.mark.services
def test_sessions_live_in_redis_and_in_the_database(redis_cache, client, make_user):
    from django.contrib.sessions.models import Session

    user = make_user("robin")
    client.force_login(user)
    assert client.get(reverse("profile")).status_code == 200
    key = client.cookies["sessionid"].value
    assert any(key.encode() in k for k in redis_cache.keys())
    assert Session.objects.filter(session_key=key).exists()  # written through: survives a Redis restart
    redis_cache.flushdb()
    assert client.get(reverse("profile")).status_code == 200  # still signed in, read back from the database


def test_without_redis_the_cache_is_per_process():
    assert caches_for("")["default"]["BACKEND"].endswith("LocMemCache")


def test_redis_url_is_checked():
    with pytest.raises(SettingsError, match="FEATUREPEDIA_REDIS_URL .*redis://host:port/db"):
        Settings.from_env({"FEATUREPEDIA_REDIS_URL": "127.0.0.1:6379"})


@pytest.mark.services
def test_processes_starting_at_once_on_a_new_postgres_database_all_come_up(tmp_path):
    """Web processes and workers run migrations as they start; on a new database only one may do it."""
    import os
    import subprocess
    import sys

    import psycopg

    name = "featurepedia_migrate_race"
    with psycopg.connect("postgresql://root@127.0.0.1:5432/postgres", autocommit=True) as admin:
        admin.execute(f"DROP DATABASE IF EXISTS {name}")
        admin.execute(f"CREATE DATABASE {name}")
    env = {**os.environ, "FEATUREPEDIA_DATABASE_URL": f"postgres://root@127.0.0.1:5432/{name}",
           "FEATUREPEDIA_DATA_DIR": str(tmp_path)}
    command = [sys.executable, "-m", "featurepedia.cli", "score", "--model", "nope", "--source", "6-mlp"]
    procs = [subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for _ in range(4)]
    results = [(p.wait(timeout=300), p.communicate()[1]) for p in procs]
    with psycopg.connect("postgresql://root@127.0.0.1:5432/postgres", autocommit=True) as admin:
        admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    for code, err in results:
        # Each got past the migrations to the command's own, clear error about the unknown model.
        assert code == 2 and "no source nope/6-mlp" in err and "Traceback" not in err, err[-2000:]
