"""The production stack for the fault and load tests: gunicorn web workers and `featurepedia worker`.

Started as subprocesses on the test database (the tests' data is committed: they use transactional_db),
with Redis on this suite's database, so a test can kill any process with SIGKILL and look at what is left.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import psutil

SECRET = "reliability-tests-secret-" + "k" * 40


def stack_env(database: dict, redis_url: str, data_dir: Path, **extra: str) -> dict[str, str]:
    """Environment of the stack's processes: production mode on the given database and Redis."""
    env = {**os.environ, "FEATUREPEDIA_MODE": "production", "FEATUREPEDIA_SECRET_KEY": SECRET,
           "FEATUREPEDIA_DATABASE_URL": (f"postgres://{database['USER']}@{database['HOST'] or '127.0.0.1'}:"
                                         f"{database['PORT'] or 5432}/{database['NAME']}"),
           "FEATUREPEDIA_REDIS_URL": redis_url, "FEATUREPEDIA_DATA_DIR": str(data_dir),
           "FEATUREPEDIA_EMAIL_VERIFICATION": "none", "FEATUREPEDIA_TASK_POLL_INTERVAL": "0.2",
           "FEATUREPEDIA_ALLOWED_HOSTS": "127.0.0.1,localhost", "PYTHONPATH": os.pathsep.join(sys.path),
           "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false", "OMP_NUM_THREADS": "1"}
    env.update(extra)
    return env


@dataclass
class Stack:
    """A running stack; ``url`` is the site, ``log`` the file every process writes to."""

    env: dict[str, str]
    port: int
    log: Path
    web_workers: int = 2
    web: subprocess.Popen | None = None
    workers: list[subprocess.Popen] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _spawn(self, command: list[str]) -> subprocess.Popen:
        out = open(self.log, "ab")  # noqa: SIM115 (the child keeps writing to it)
        return subprocess.Popen(command, env=self.env, stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True)

    def start_web(self, timeout: float = 180.0) -> None:
        self.web = self._spawn([sys.executable, "-m", "gunicorn", "featurepedia.web.wsgi:application",
                                "--bind", f"127.0.0.1:{self.port}", "--workers", str(self.web_workers),
                                "--threads", "4", "--timeout", "120", "--graceful-timeout", "5"])
        self.wait_ready(timeout)

    def start_worker(self) -> subprocess.Popen:
        worker = self._spawn([sys.executable, "-m", "featurepedia.cli", "worker"])
        self.workers.append(worker)
        return worker

    def wait_ready(self, timeout: float = 180.0) -> None:
        """Poll until every web worker answers (a loaded 2-core machine takes a while to import torch)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.web is not None and self.web.poll() is not None:
                raise RuntimeError(f"gunicorn exited with {self.web.returncode}:\n{self.tail()}")
            try:
                if httpx.get(self.url + "/", timeout=10).status_code == 200 and \
                        len(self.web_pids()) >= self.web_workers:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.5)
        raise RuntimeError(f"the site did not come up in {timeout:.0f} s:\n{self.tail()}")

    def web_pids(self) -> list[int]:
        """Process ids of the web workers (gunicorn's children)."""
        if self.web is None or self.web.poll() is not None:
            return []
        return [p.pid for p in psutil.Process(self.web.pid).children()]

    def kill_web_worker(self) -> int:
        """SIGKILL one web worker (gunicorn starts a new one); returns its pid."""
        pid = self.web_pids()[0]
        os.kill(pid, signal.SIGKILL)
        return pid

    def kill_worker(self, worker: subprocess.Popen) -> None:
        os.killpg(worker.pid, signal.SIGKILL)
        worker.wait(timeout=30)

    def tail(self, chars: int = 4000) -> str:
        return self.log.read_text(errors="replace")[-chars:] if self.log.exists() else ""

    def stop(self) -> None:
        for proc in [p for p in [self.web, *self.workers] if p is not None]:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        for proc in [p for p in [self.web, *self.workers] if p is not None]:
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=10)
