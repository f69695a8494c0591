"""The database going away: clean 503s with Retry-After, logged once, then recovery without a restart.

The site's connection goes through a proxy the test cuts (the shared PostgreSQL keeps running).
"""

from __future__ import annotations

import logging

import pytest
from django.db import close_old_connections, connection
from django.test import Client
from django.urls import reverse

from featurepedia.web.explanations.models import Explanation
from featurepedia.web.outage import OUTAGE

pytestmark = pytest.mark.services


@pytest.fixture(autouse=True)
def _no_outage_left_over():
    OUTAGE.down = False
    yield
    OUTAGE.down = False


def _outage_logs(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name in ("featurepedia.web.outage", "django.request")]


def test_pages_and_the_api_answer_503_while_the_database_is_away_then_recover(world, db_proxy, make_user,
                                                                               caplog):
    cats = world["features"][0]
    Explanation.objects.create(feature=cats, text="the word cat")
    page, api = "/tiny/1-mlp/0", "/api/feature/tiny/1-mlp/0"
    player = Client(raise_request_exception=False)
    player.force_login(make_user("ann"))
    assert player.get(page).status_code == 200 and player.get(api).status_code == 200

    db_proxy.cut()
    caplog.set_level(logging.WARNING)
    for _ in range(3):
        html = player.get(page)
        assert html.status_code == 503 and html["Retry-After"].isdigit()
        assert "cannot reach its database" in html.content.decode()
        answer = player.post(reverse("answer", args=["tiny-1", cats.pk]), {"kind": "skip"})
        assert answer.status_code == 503
        body = player.get(api)
        assert body.status_code == 503 and body["Retry-After"].isdigit()
        assert body.json() == {"ok": False, "status": 503, "error": body.json()["error"]}
        assert "database is unreachable" in body.json()["error"]
    logged = _outage_logs(caplog)
    assert len(logged) == 1 and "unreachable" in logged[0], logged  # once, not once per request
    assert not [r for r in caplog.records if r.exc_info], "an outage is not a crash: no tracebacks"

    db_proxy.restore()
    close_old_connections()  # what the server does as each request starts (the test client skips it)
    assert player.get(page).status_code == 200 and player.get(api).status_code == 200
    assert "reachable again" in _outage_logs(caplog)[-1]
    assert player.get(reverse("profile")).status_code == 200  # still signed in: the session survived


def test_the_worker_waits_out_the_outage_and_then_scores(db_proxy, make_user, no_embeddings, settings, caplog):
    from django_tasks.base import TaskResultStatus
    from django_tasks_db.models import DBTaskResult

    from featurepedia.web.explanations import services
    from featurepedia.web.worker import RecoveringWorker
    from tests.web.test_scoring import planted_feature

    settings.TASKS = {"default": {"BACKEND": "django_tasks_db.backend.DatabaseBackend"}}
    result = services.submit(make_user("ann"), planted_feature(), "animals such as cats and dogs")
    worker = RecoveringWorker(interval=0, stale_after=60)
    caplog.set_level(logging.WARNING, logger="featurepedia.web.worker")

    db_proxy.cut()
    worker.serve(rounds=3)  # must not raise: a worker that exits leaves the queue unserved
    assert worker.database_down
    db_proxy.restore()
    worker.serve(rounds=1)

    messages = [r.getMessage() for r in caplog.records if r.name == "featurepedia.web.worker"]
    assert sum("unreachable" in m for m in messages) == 1 and any("reachable again" in m for m in messages)
    assert DBTaskResult.objects.get().status == TaskResultStatus.SUCCESSFUL
    assert result.explanation.scores.get().status == "ok"


@pytest.mark.slow
def test_the_production_stack_rides_out_database_and_redis_outages_without_a_restart(world, make_user, stack,
                                                                                     server_proxies):
    import httpx

    from tests.reliability.stack import database_url
    from tests.reliability.test_worker import wait_for

    pg, rd = server_proxies
    db = {**connection.settings_dict, "HOST": "127.0.0.1", "PORT": str(pg.port)}
    player = Client()
    player.force_login(make_user("ann"))
    cookies = {"sessionid": player.cookies["sessionid"].value}
    site = stack(task_workers=0, database=database_url(db), redis_url=f"redis://127.0.0.1:{rd.port}/14",
                 FEATUREPEDIA_DB_CONNECT_TIMEOUT="2")
    web = httpx.Client(base_url=site.url, cookies=cookies, timeout=60, trust_env=False)
    assert web.get("/me/").status_code == 200 and web.get("/tiny/1-mlp/0").status_code == 200

    rd.cut()  # Redis away: the site serves, the player stays signed in
    for _ in range(4):
        assert web.get("/me/").status_code == 200 and web.get("/api/feature/tiny/1-mlp/0").status_code == 200
    rd.restore()

    pg.cut()  # the database away: 503 with Retry-After, HTML for pages and JSON for the API
    for _ in range(4):
        page, api = web.get("/tiny/1-mlp/0"), web.get("/api/feature/tiny/1-mlp/0")
        assert page.status_code == 503 and page.headers["Retry-After"].isdigit(), page.text[:500]
        assert api.status_code == 503 and api.json()["status"] == 503 and api.headers["Retry-After"].isdigit()
    pg.restore()
    wait_for(lambda: web.get("/tiny/1-mlp/0").status_code == 200, timeout=60, what="the site to recover")
    assert web.get("/me/").status_code == 200 and web.get("/api/feature/tiny/1-mlp/0").status_code == 200
    assert len(site.web_pids()) == 2  # the same processes: nothing was restarted

    log = site.tail(200_000)
    # Logged once per web process (two of them), not once per request.
    assert 1 <= log.count("the database is unreachable") <= 2, log[-3000:]
    assert log.count("Redis is unreachable") <= 2 and "Traceback" not in log, log[-3000:]
    assert "error connecting in" not in log  # the pool's reconnection attempts are not logged one by one
