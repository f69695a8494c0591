"""The database going away: clean 503s with Retry-After, logged once, then recovery without a restart.

The site's connection goes through a proxy the test cuts (the shared PostgreSQL keeps running).
"""

from __future__ import annotations

import logging

import pytest
from django.db import close_old_connections
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
