"""The production stack on one machine: a Procfile of web, worker and inference processes, run by honcho.

``featurepedia stack`` checks the settings (production mode, a real secret, PostgreSQL, Redis), brings the
database's tables up to date, collects the static files, then runs the Procfile (:func:`procfile`) with
honcho: gunicorn web processes (:mod:`featurepedia.web.gunicorn_conf`), ``featurepedia worker`` and
``featurepedia inference``. When one process stops, honcho stops the others and the command exits with its
code, so a process manager (systemd, a container runtime) restarts the whole stack.

:func:`start_stack` starts the same command as a child process, for tests and benchmarks: it returns a
:class:`Stack` that waits until the site is ready, finds its processes, kills one of them with SIGKILL
(``kill_web_worker``, ``kill_worker``) and stops everything.
"""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import httpx

from featurepedia.errors import UsageError
from featurepedia.settings import PLACEHOLDER_SECRET, Settings

PROCESSES = ("web", "worker", "inference")
SHELLS = ("sh", "dash", "bash")  # honcho runs each Procfile line through the shell
Say = Callable[[str], None]


def parse_only(text: str) -> tuple[str, ...]:
    """``--only web,worker`` as process names, checked."""
    names = tuple(dict.fromkeys(n.strip() for n in text.split(",") if n.strip()))
    unknown = [n for n in names if n not in PROCESSES]
    if unknown or not names:
        raise UsageError(f"--only {text!r}: name one or more of {', '.join(PROCESSES)}, comma-separated "
                         "(e.g. --only web,worker)")
    return names


def procfile(*, host: str = "127.0.0.1", port: int = 3000, inference_port: int = 3001, model: str,
             only: Sequence[str] = PROCESSES, workers: int = 1) -> str:
    """The Procfile of the stack (``workers`` worker lines); the web line points at the inference line's
    address when both are in it."""
    lines = []
    inference_url = f"http://127.0.0.1:{inference_port}"
    if "web" in only:
        env = f"FEATUREPEDIA_INFERENCE_URL={inference_url} " if "inference" in only else ""
        lines.append(f"web: {env}gunicorn --config python:featurepedia.web.gunicorn_conf --bind {host}:{port}")
    if "worker" in only:
        lines += [f"worker{'' if workers == 1 else i + 1}: featurepedia worker" for i in range(workers)]
    if "inference" in only:
        lines.append(f"inference: featurepedia inference --model {model} --host 127.0.0.1 --port {inference_port}")
    return "\n".join(lines) + "\n"


def check_production(settings: Settings, only: Sequence[str]) -> None:
    """Refuse settings the production stack cannot run with, saying what to set."""
    if settings.mode != "production":
        raise UsageError("featurepedia stack runs the production stack: set FEATUREPEDIA_MODE=production with a "
                         "FEATUREPEDIA_SECRET_KEY, a PostgreSQL FEATUREPEDIA_DATABASE_URL and FEATUREPEDIA_REDIS_URL "
                         "(see docs/deploy.md); on one laptop, `featurepedia demo` or `serve` run embedded mode")
    if settings.secret_key == PLACEHOLDER_SECRET:  # Settings.validate refuses it already; never rely on one check
        raise UsageError("FEATUREPEDIA_SECRET_KEY is the placeholder; production needs a real secret")
    if urlsplit(settings.database).scheme not in ("postgres", "postgresql", "pgsql"):
        raise UsageError("the production stack needs PostgreSQL (several processes write at once): set "
                         "FEATUREPEDIA_DATABASE_URL=postgres://user@host:5432/db")
    if not settings.redis_url:
        raise UsageError("the production stack needs Redis (the cache, sessions and rate limits shared by all web "
                         "processes): set FEATUREPEDIA_REDIS_URL=redis://host:6379/0")
    if "web" in only and "inference" not in only and not settings.inference_url:
        raise UsageError("--only leaves out the inference process, so the web processes need "
                         "FEATUREPEDIA_INFERENCE_URL: the address of a `featurepedia inference` elsewhere")


def prepare(say: Say) -> None:
    """Migrate the database (one process at a time) and collect the static files, before any process starts."""
    from django.core.management import call_command
    from django.db import connections

    from featurepedia.web import setup

    setup(migrate=True)
    say("featurepedia stack: database up to date; collecting static files")
    call_command("collectstatic", interactive=False, verbosity=0)
    for conn in connections.all(initialized_only=True):
        conn.close()
        if conn.alias in getattr(conn, "_connection_pools", {}):
            conn.close_pool()  # the stack's own process holds no connection while it runs the others


def run(text: str, say: Say) -> int:
    """Run a Procfile with honcho until one process stops or the stack is interrupted; its exit code."""
    from honcho.environ import expand_processes, parse_procfile
    from honcho.manager import Manager
    from honcho.printer import Printer

    env = dict(os.environ)
    # The Procfile names `gunicorn` and `featurepedia`: those of this Python, whether or not it is on PATH.
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    manager = Manager(Printer(sys.stdout))
    for process in expand_processes(parse_procfile(text).processes, env=env):
        manager.add_process(process.name, process.cmd, env=process.env)
    say("featurepedia stack: starting " + ", ".join(parse_procfile(text).processes) + "  (Ctrl+C stops it)")
    manager.loop()
    return int(manager.returncode or 0)


# -- the launcher, for tests and benchmarks ---------------------------------------------------------------

@dataclass
class Stack:
    """A ``featurepedia stack`` started by :func:`start_stack`; its output goes to ``log_path``."""

    process: subprocess.Popen[bytes]
    url: str  # the web processes' address, e.g. http://127.0.0.1:18100
    inference_url: str
    only: tuple[str, ...]
    log_path: Path
    env: dict[str, str] = field(repr=False)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def wait_ready(self, timeout_s: float = 180.0) -> None:
        """Wait until ``/readyz`` answers 200 (or, without web, until its processes run).

        Raises:
            RuntimeError: the stack exited or was not ready in time (the message ends with its log).
        """
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the stack exited with {self.process.returncode}:\n{self.log()[-4000:]}")
            if self._ready():
                return
            time.sleep(0.3)
        raise RuntimeError(f"the stack was not ready after {timeout_s:g} s:\n{self.log()[-4000:]}")

    def _ready(self) -> bool:
        if "web" not in self.only:
            return all(self.pids(name) for name in self.only)
        try:
            return httpx.get(self.url + "/readyz", timeout=5, trust_env=False).status_code == 200
        except httpx.HTTPError:
            return False

    def pids(self, name: str) -> list[int]:
        """Process ids of one kind: ``web`` (gunicorn's workers), ``web-master``, ``worker`` or ``inference``."""
        import psutil

        found = []
        try:
            children = psutil.Process(self.process.pid).children(recursive=True)
        except psutil.NoSuchProcess:
            return []
        for child in children:
            try:
                if child.name() in SHELLS:
                    continue
                cmd = child.cmdline()
                parent = child.parent()
                # gunicorn's workers are forks of its master; the master's parent is honcho's shell.
                under_master = parent is not None and parent.name() not in SHELLS and \
                    any("gunicorn" in part for part in parent.cmdline())
            except psutil.Error:
                continue
            gunicorn = any("gunicorn" in part for part in cmd)
            if (name == "web" and gunicorn and under_master) or (name == "web-master" and gunicorn and not under_master):
                found.append(child.pid)
            elif name in ("worker", "inference") and not gunicorn and name in cmd[1:3]:
                found.append(child.pid)
        return sorted(found)

    def kill_web_worker(self) -> int:
        """SIGKILL one gunicorn worker (its master starts another); the pid killed."""
        return self._kill("web")

    def kill_worker(self) -> int:
        """SIGKILL the task worker; honcho then stops the rest of this stack (start it again to restart)."""
        return self._kill("worker")

    def _kill(self, name: str) -> int:
        pids = self.pids(name)
        if not pids:
            raise RuntimeError(f"no {name} process is running in this stack:\n{self.log()[-2000:]}")
        os.kill(pids[0], signal.SIGKILL)
        return pids[0]

    def stop(self, timeout_s: float = 30.0) -> int | None:
        """Stop the stack (SIGTERM, then SIGKILL of everything left after ``timeout_s``); its exit code."""
        import psutil

        try:
            left = psutil.Process(self.process.pid).children(recursive=True)
        except psutil.NoSuchProcess:
            left = []
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout_s)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        for child in left:  # anything honcho could not stop in time
            try:
                child.kill()
            except psutil.NoSuchProcess:
                pass
        return self.process.returncode

    def __enter__(self) -> Stack:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def start_stack(*, database_url: str, redis_url: str, data_dir: Path, port: int, inference_port: int,
                model: str, only: Iterable[str] = PROCESSES, web_workers: int = 2, threads: int = 4,
                env: Mapping[str, str] | None = None, log_path: Path | None = None,
                wait: bool = True, timeout_s: float = 180.0) -> Stack:
    """Start ``featurepedia stack`` as a child process in production mode and (by default) wait until ready.

    Args:
        database_url: a PostgreSQL database (migrated at start).
        redis_url: the Redis database for cache, sessions and rate limits (e.g. redis://127.0.0.1:6379/12).
        port, inference_port: where the web and inference processes listen (on 127.0.0.1).
        model: the inference process's model id (e.g. tiny-llama in tests).
        env: more environment variables (FEATUREPEDIA_* settings) for every process.
        log_path: where the stack's output goes (default: data_dir/stack.log).
    """
    names = tuple(only)
    data_dir.mkdir(parents=True, exist_ok=True)
    log_path = log_path or data_dir / "stack.log"
    child_env = {**os.environ, "FEATUREPEDIA_MODE": "production", "FEATUREPEDIA_SECRET_KEY": secrets.token_urlsafe(50),
                 "FEATUREPEDIA_DATABASE_URL": database_url, "FEATUREPEDIA_REDIS_URL": redis_url,
                 "FEATUREPEDIA_DATA_DIR": str(data_dir), "FEATUREPEDIA_WEB_WORKERS": str(web_workers),
                 "FEATUREPEDIA_THREADS": str(threads), "FEATUREPEDIA_DB_POOL_SIZE": str(max(threads, 2)),
                 "PYTHONUNBUFFERED": "1", **(env or {})}
    command = [sys.executable, "-m", "featurepedia.cli", "stack", "--port", str(port), "--inference-port",
               str(inference_port), "--model", model, "--only", ",".join(names)]
    with open(log_path, "ab") as log:
        process = subprocess.Popen(command, env=child_env, stdout=log, stderr=subprocess.STDOUT,
                                   stdin=subprocess.DEVNULL, start_new_session=True)
    stack = Stack(process=process, url=f"http://127.0.0.1:{port}", inference_url=f"http://127.0.0.1:{inference_port}",
                  only=names, log_path=log_path, env=child_env)
    if wait:
        try:
            stack.wait_ready(timeout_s)
        except BaseException:
            stack.stop()
            raise
    return stack
