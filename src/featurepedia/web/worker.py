"""`featurepedia worker`: runs the durable task queue (scoring) and recovers from crashes around it.

django-tasks-db's worker claims a task by marking it RUNNING; a worker killed mid-task (kill -9, out of
memory, a lost machine) leaves that claim behind and nobody runs the task again. This worker first puts
such stale claims back in the queue: a task RUNNING for longer than ``FEATUREPEDIA_TASK_STALE_AFTER``
seconds is taken to have lost its worker. Tasks must therefore be safe to run twice (scoring is: it
rewrites the same score row). The database going away does not stop the worker either: it says so once,
waits and carries on when the database is back, instead of exiting and leaving the queue unserved. A task
whose row is deleted while it runs (an administrator clearing the queue, an explanation deleted with its
tasks) has nowhere to store its result: the worker says so and goes on with the next task.
"""

from __future__ import annotations

import logging
import time
from datetime import timedelta

from django.db import close_old_connections, connections
from django.db.utils import DatabaseError, InterfaceError, OperationalError
from django.utils import timezone
from django.utils.crypto import get_random_string
from django_tasks.base import TaskResultStatus
from django_tasks_db.management.commands.db_worker import Worker
from django_tasks_db.models import DBTaskResult

from featurepedia.settings import get_settings

log = logging.getLogger(__name__)


def requeue_stale(stale_after: float, keep: object = None) -> int:
    """Put tasks claimed more than ``stale_after`` seconds ago and still RUNNING back in the queue (all but
    ``keep``, the id of a task the caller is running)."""
    cutoff = timezone.now() - timedelta(seconds=stale_after)
    count = DBTaskResult.objects.filter(status=TaskResultStatus.RUNNING, started_at__lt=cutoff).exclude(
        pk=keep).update(status=TaskResultStatus.READY, started_at=None)
    if count:
        log.warning("requeued %d task(s) claimed over %.0f s ago by a worker that stopped before finishing "
                    "(FEATUREPEDIA_TASK_STALE_AFTER)", count, stale_after)
    return count


class RecoveringWorker(Worker):
    """django-tasks-db's worker, run in rounds: requeue stale claims, run every ready task, wait, repeat."""

    def __init__(self, interval: float, stale_after: float, worker_id: str | None = None) -> None:
        super().__init__(queue_names=["*"], interval=interval, batch=True, backend_name="default",
                         startup_delay=False, max_tasks=None, worker_id=worker_id or get_random_string(32),
                         excluded_queue_names=[])
        self.stale_after = stale_after
        self.database_down = False
        self._last_requeue = float("-inf")

    def requeue(self, keep: object = None) -> None:
        """Requeue stale claims but ``keep`` (and remember when, so a busy worker still does it every so often)."""
        self._last_requeue = time.monotonic()
        requeue_stale(self.stale_after, keep)

    def run_task(self, db_task_result: DBTaskResult) -> None:
        # A queue that never empties keeps this worker inside one round: look for dead claims between tasks.
        if time.monotonic() - self._last_requeue > min(self.stale_after / 2, 30.0):
            self.requeue(keep=db_task_result.pk)  # claimed just now by this worker
        try:
            super().run_task(db_task_result)
        except DatabaseError:
            # Recording the result (then the failure) updates the task's row; a row deleted meanwhile makes
            # both updates fail. Anything else (a lost database) is the caller's to handle.
            if isinstance(db_task_result, DBTaskResult) and not _row_exists(db_task_result.pk):
                log.warning("task %s was deleted while it ran; its result is not kept and the worker carries on",
                            db_task_result.pk)
                return
            raise

    def serve(self, rounds: int | None = None) -> None:
        """Work until stopped by a signal (or for ``rounds`` rounds, for tests)."""
        log.warning("worker %s started (stale claims requeued after %.0f s)", self.worker_id, self.stale_after)
        done = 0
        while self.running and (rounds is None or done < rounds):
            try:
                self.requeue()
                self.run()  # batch mode: every ready task, then back here
                if self.database_down:
                    log.warning("the database is reachable again; the worker carries on")
                    self.database_down = False
            except (OperationalError, InterfaceError) as err:
                if not self.database_down:
                    log.error("the database is unreachable (%s); the worker retries every %.0f s",
                              str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__,
                              max(self.interval, 1.0))
                self.database_down = True
                for conn in connections.all():
                    try:
                        conn.close()
                    except DatabaseError:
                        pass
            done += 1
            if self.running and (rounds is None or done < rounds):
                time.sleep(max(self.interval, 1.0) if self.database_down else self.interval)
            close_old_connections()


def _row_exists(pk: object) -> bool:
    try:
        return DBTaskResult.objects.filter(pk=pk).exists()
    except DatabaseError:
        return True  # the database cannot say: treat the error as the database's, not the row's


def run_worker() -> None:
    """The worker of `featurepedia worker`, with the settings' poll interval and stale-claim age."""
    s = get_settings()
    worker = RecoveringWorker(interval=s.task_poll_interval, stale_after=s.task_stale_after)
    worker.configure_signals()
    worker.serve()
