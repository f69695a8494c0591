"""The durable scoring queue: a task is stored with its explanation, a dead worker's claim is run again, and
a `featurepedia worker` killed with SIGKILL mid-queue leaves nothing unscored once a worker runs again."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone
from django_tasks.base import TaskResultStatus
from django_tasks_db.models import DBTaskResult

from featurepedia.web.explanations import services
from featurepedia.web.explanations.models import Explanation, ExplanationScore
from featurepedia.web.worker import RecoveringWorker, requeue_stale
from tests.web.test_scoring import planted_feature

pytestmark = [pytest.mark.services, pytest.mark.django_db(transaction=True)]

DURABLE = {"default": {"BACKEND": "django_tasks_db.backend.DatabaseBackend"}}


@pytest.fixture
def durable_queue(settings):
    settings.TASKS = DURABLE


def wait_for(condition, timeout: float = 180.0, what: str = "the condition"):
    """Poll until ``condition()`` is truthy (a loaded machine may be slow; nothing here sleeps blindly)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


def test_the_scoring_task_is_committed_with_its_explanation(durable_queue, make_user, no_embeddings, monkeypatch):
    feature, user = planted_feature(), make_user("ann")
    result = services.submit(user, feature, "animals such as cats and dogs")
    task = DBTaskResult.objects.get()
    assert task.args_kwargs["args"][0] == result.explanation.pk and task.status == TaskResultStatus.READY
    assert result.score is not None and result.score.status == ExplanationScore.Status.PENDING

    # A queue that cannot take the task refuses the answer: no explanation is left behind unscored.
    def broken(*args, **kwargs):
        raise RuntimeError("queue unavailable")

    monkeypatch.setattr("django_tasks_db.backend.DatabaseBackend.enqueue", broken)
    with pytest.raises(RuntimeError, match="queue unavailable"):
        services.submit(user, feature, "farm animals in a field")
    assert not Explanation.objects.filter(text="farm animals in a field").exists()


def test_a_claim_left_by_a_dead_worker_is_run_again(durable_queue, make_user, no_embeddings):
    result = services.submit(make_user("ann"), planted_feature(), "animals such as cats and dogs")
    task = DBTaskResult.objects.get()
    task.claim("a-worker-that-was-killed")
    assert requeue_stale(stale_after=60) == 0  # a fresh claim is left alone: its worker may be busy with it
    DBTaskResult.objects.filter(pk=task.pk).update(started_at=timezone.now() - timedelta(seconds=120))

    RecoveringWorker(interval=0, stale_after=60).serve(rounds=1)

    task.refresh_from_db()
    assert task.status == TaskResultStatus.SUCCESSFUL and task.worker_ids[0] == "a-worker-that-was-killed"
    score = result.explanation.scores.get()
    assert score.status == ExplanationScore.Status.OK and score.value is not None


def _worker(env: dict[str, str], log_path) -> subprocess.Popen:
    log = open(log_path, "ab")  # noqa: SIM115 (the child writes to it until killed)
    return subprocess.Popen([sys.executable, "-m", "featurepedia.cli", "worker"], env=env, stdout=log,
                            stderr=subprocess.STDOUT, start_new_session=True)


def test_a_worker_killed_mid_queue_loses_no_score(durable_queue, make_user, no_embeddings, tmp_path):
    feature, user = planted_feature(), make_user("ann")
    ids = [services.submit(user, feature, f"animal words, take {i}").explanation.pk for i in range(12)]
    db = connection.settings_dict
    env = {**os.environ, "FEATUREPEDIA_MODE": "production", "FEATUREPEDIA_SECRET_KEY": "reliability-tests-" + "x" * 40,
           "FEATUREPEDIA_DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
           "FEATUREPEDIA_DATA_DIR": str(tmp_path / "data"), "FEATUREPEDIA_TASK_STALE_AFTER": "3",
           "FEATUREPEDIA_TASK_POLL_INTERVAL": "0.2", "PYTHONPATH": os.pathsep.join(sys.path)}
    first = _worker(env, tmp_path / "worker.log")
    try:
        wait_for(lambda: DBTaskResult.objects.filter(status=TaskResultStatus.SUCCESSFUL).exists(),
                 what="the first worker to finish a task")
        os.killpg(first.pid, signal.SIGKILL)
        first.wait(timeout=30)
    finally:
        if first.poll() is None:
            os.killpg(first.pid, signal.SIGKILL)
    left = DBTaskResult.objects.exclude(status=TaskResultStatus.SUCCESSFUL).count()
    second = _worker(env, tmp_path / "worker.log")
    try:
        wait_for(lambda: not DBTaskResult.objects.exclude(status=TaskResultStatus.SUCCESSFUL).exists(),
                 what=f"the restarted worker to finish the {left} tasks left")
    finally:
        os.killpg(second.pid, signal.SIGTERM)
        second.wait(timeout=30)
    scores = ExplanationScore.objects.filter(explanation_id__in=ids)
    assert scores.count() == 12 and all(s.status == ExplanationScore.Status.OK for s in scores), \
        (tmp_path / "worker.log").read_text()[-3000:]


def test_a_busy_worker_still_looks_for_dead_claims_between_tasks(durable_queue, make_user, no_embeddings,
                                                                 monkeypatch):
    import featurepedia.web.worker as worker_module

    feature, user = planted_feature(), make_user("ann")
    for i in range(3):
        services.submit(user, feature, f"animal words, take {i}")
    calls = []
    real = worker_module.requeue_stale
    monkeypatch.setattr(worker_module, "requeue_stale",
                        lambda stale_after, keep=None: calls.append(keep) or real(stale_after, keep))
    # The round's own look, then one before each task once stale_after / 2 has passed since the last look
    # (the first task may start sooner than that on a quick machine): a queue that never empties cannot hide
    # a dead claim.
    RecoveringWorker(interval=0, stale_after=0.01).serve(rounds=1)
    assert len(calls) in (3, 4) and calls[0] is None and None not in calls[1:]  # never its own running task
    assert all(t.worker_ids and len(t.worker_ids) == 1 for t in DBTaskResult.objects.all())  # each ran once
    assert not DBTaskResult.objects.exclude(status=TaskResultStatus.SUCCESSFUL).exists()


def test_a_task_deleted_while_it_runs_does_not_stop_the_worker(durable_queue, make_user, no_embeddings,
                                                               monkeypatch):
    from featurepedia.web.explanations import scoring

    feature, user = planted_feature(), make_user("ann")
    first, second = (services.submit(user, feature, f"animal words, take {i}").explanation for i in range(2))
    doomed = DBTaskResult.objects.get(args_kwargs__args__0=first.pk).pk
    real = scoring.score_explanation

    def deleting(explanation, *args, **kwargs):
        if explanation.pk == first.pk:
            DBTaskResult.objects.filter(pk=doomed).delete()  # the row goes while its task runs
        return real(explanation, *args, **kwargs)

    monkeypatch.setattr(scoring, "score_explanation", deleting)
    RecoveringWorker(interval=0, stale_after=60).serve(rounds=1)  # raised DatabaseError before

    assert not DBTaskResult.objects.filter(pk=doomed).exists()
    assert DBTaskResult.objects.get().status == TaskResultStatus.SUCCESSFUL  # the other task still ran
    assert second.scores.get().status == ExplanationScore.Status.OK
