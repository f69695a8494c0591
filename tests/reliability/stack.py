"""The production stack for the fault and load tests, started with featurepedia.web.stack.

Two stacks on the test database (the tests' data is committed: they use transactional_db) and this suite's
Redis database: one runs the web processes (gunicorn) and the inference process (a tiny model), the other
the task worker. They are separate because a stack stops as a whole when one of its processes dies, and the
tests kill the worker with SIGKILL and then start it again while the site keeps serving.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from featurepedia.web.stack import Stack, start_stack

SECRET = "reliability-tests-secret-" + "k" * 40


def database_url(database: dict) -> str:
    return (f"postgres://{database['USER']}@{database['HOST'] or '127.0.0.1'}:{database['PORT'] or 5432}/"
            f"{database['NAME']}")


@dataclass
class ProductionSite:
    """The web stack and the worker stacks started for one test."""

    database_url: str
    redis_url: str
    data_dir: Path
    ports: tuple[int, int, int]  # web, inference, the worker stack's (unused) inference port
    env: dict[str, str]
    web_workers: int = 2
    web: Stack | None = None
    workers: list[Stack] = field(default_factory=list)

    def _start(self, only: tuple[str, ...], port: int, inference_port: int) -> Stack:
        return start_stack(database_url=self.database_url, redis_url=self.redis_url, data_dir=self.data_dir,
                           port=port, inference_port=inference_port, model="tiny-gpt2", only=only,
                           web_workers=self.web_workers, threads=4, env=self.env,
                           log_path=self.data_dir / f"stack-{'-'.join(only)}.log", timeout_s=240)

    def start_web(self) -> None:
        self.web = self._start(("web", "inference"), self.ports[0], self.ports[1])

    def start_worker(self) -> Stack:
        worker = self._start(("worker",), self.ports[0], self.ports[2])
        self.workers.append(worker)
        return worker

    @property
    def url(self) -> str:
        assert self.web is not None
        return self.web.url

    def web_pids(self) -> list[int]:
        return self.web.pids("web") if self.web is not None else []

    def kill_web_worker(self) -> int:
        """SIGKILL one gunicorn worker (its master starts another); the pid killed."""
        assert self.web is not None
        return self.web.kill_web_worker()

    def kill_worker(self) -> None:
        """SIGKILL the running task worker (its stack then stops: start_worker starts a new one)."""
        worker = self.workers[-1]
        worker.kill_worker()
        worker.process.wait(timeout=60)

    def tail(self, chars: int = 4000) -> str:
        return "\n".join(s.log()[-chars:] for s in [self.web, *self.workers] if s is not None)

    def stop(self) -> None:
        for s in [*self.workers, self.web]:
            if s is not None:
                s.stop(timeout_s=3)  # then SIGKILL: nothing the tests check is in flight any more
