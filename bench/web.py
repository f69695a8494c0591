"""Benchmark: the site under load, against the same server's ceiling, measured side by side in one run.

Load comes from locust, used as a library (FastHttpUser clients in this process). Against one server:

1. baseline: closed loop (no think time), --clients clients on ``/healthz``, the trivial JSON view: what
   the framework and server manage on this machine, and the ceiling the site is compared with;
2. flow: closed loop, --clients visitors playing the game: the next puzzle (``/play/<campaign>/``), then a
   vote (after revealing the explanations), a written explanation or a skip, and now and then the
   leaderboard, a feature page and API reads (``/api/feature/...``, ``/api/campaigns``);
3. static and pages: closed loop, --clients clients on a static file (the site's stylesheet), then on
   feature pages (a fixed sample of --pages of them, each visited once before: the pages people look at
   are a small part of the catalog, and a page's clues are rendered once and cached), then on puzzle pages;
4. players: --players visitors playing the same flow, each waiting 1-3 s between actions: the latency a
   crowd sees (p99) and the errors; the server's memory (RSS of its processes) is read before and after.

The players are visitors (not signed in): their answers are checked and kept in their sessions, as the site
does for visitors, so nothing is scored during the run.

The server is started by the bench: ``featurepedia serve`` (embedded mode, the data dir's database), or with
--production the production stack (``featurepedia.web.stack``: gunicorn web workers, the task worker and the
inference process) on --database-url / --redis-url (or FEATUREPEDIA_DATABASE_URL / FEATUREPEDIA_REDIS_URL),
whose database must hold a built source (``featurepedia build`` or ``import``). Or --url points it at any
running server (memory is then not measured). The site needs a running campaign with explanations:
``featurepedia demo`` leaves one; ``--prepare`` makes one over the default source (token-list explanations
for features 0-199, no scores).

    python bench/web.py [--duration 60] [--clients 20] [--players 50] [--data-dir DIR] [--port P]
                        [--production --database-url URL --redis-url URL] [--url URL] [--prepare]

The API's rate limits are turned off in the servers the bench starts. The last line printed is one JSON
object: ``rps``, ``baseline_rps``, ``ratio`` (= rps / baseline_rps), ``p99_ms`` (players), ``errors``,
``rss_growth_mb``, ``page_rps``, ``static_rps``, ``page_ratio`` (= page_rps / static_rps), ``page_p99_ms``,
and the same for puzzle pages (``puzzle_*``).
"""

from __future__ import annotations

# locust patches the standard library for gevent when imported: it comes first.
from locust import FastHttpUser, between, task  # isort: skip
from locust.env import Environment  # isort: skip

import argparse
import contextlib
import json
import os
import random
import re
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import gevent
import httpx

TARGETS = {"ratio": (">=", 0.5), "p99_ms": ("<=", 100), "errors": ("<=", 0), "rss_growth_mb": ("<=", 50),
           "page_ratio": (">=", 0.3), "page_p99_ms": ("<=", 500), "puzzle_ratio": (">=", 0.3),
           "puzzle_p99_ms": ("<=", 500)}
EMBEDDED_PAGE_RATIO = 0.1  # the feature and puzzle page target in embedded mode (one process, threads)
FORM = {"Content-Type": "application/x-www-form-urlencoded"}
NO_LIMITS = {"FEATUREPEDIA_API_RATE_ANONYMOUS": "0", "FEATUREPEDIA_API_RATE_KEY": "0"}


class BenchError(Exception):
    """Something the user must fix before the bench can run; the message says what."""


@dataclass
class Site:
    """What the clients need to know about the site, found before the load starts."""

    campaign: str
    model: str
    source: str
    n_features: int
    static: str  # the address of a static file (the stylesheet the pages link)
    features: list[int] = field(default_factory=list)  # the feature pages visited (a fixed sample: popular pages)
    puzzles: list[str] = field(default_factory=list)  # puzzle page addresses


SITE: Site | None = None  # set before any client starts (locust makes the clients)


def site() -> Site:
    assert SITE is not None
    return SITE


class Baseline(FastHttpUser):
    @task
    def healthz(self) -> None:
        self.client.get("/healthz", name="baseline")


class Static(FastHttpUser):
    @task
    def static(self) -> None:
        self.client.get(site().static, name="static")


class Pages(FastHttpUser):
    @task
    def feature_page(self) -> None:
        s = site()
        self.client.get(f"/{s.model}/{s.source}/{random.choice(s.features)}", name="feature page")


class Puzzles(FastHttpUser):
    @task
    def puzzle_page(self) -> None:
        self.client.get(random.choice(site().puzzles), name="puzzle page")


class Player(FastHttpUser):
    """A visitor playing: next puzzle, then vote, write or skip; sometimes the leaderboard, pages, the API."""

    @task(6)
    def play(self) -> None:
        s = site()
        with self.client.get(f"/play/{s.campaign}/", name="next puzzle", catch_response=True) as page:
            found = re.search(r'action="(/play/[^"]+/answer)"', page.text or "")
            token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text or "")
            if page.status_code == 200 and not found:  # this visitor has played every feature: start afresh
                self.client.cookiejar.clear()
                return
            if not (found and token):
                page.failure(f"the puzzle page ({page.status_code}) has no answer form")
                return
        answer, csrf = found.group(1), token.group(1)
        kind = random.choice(["vote", "vote", "explain", "skip"])
        data = {"csrfmiddlewaretoken": csrf, "kind": kind}
        if kind == "vote":
            puzzle = answer.rsplit("/", 1)[0]
            revealed = self.client.get(puzzle + "?reveal=1", name="reveal explanations")
            ids = re.findall(r'name="explanation" value="(\d+)"', revealed.text or "")
            if not ids:
                kind = data["kind"] = "skip"
            else:
                data.update(explanation=random.choice(ids), confirmed="1")
        if kind == "explain":
            data["text"] = random.choice(["numbers and dates", "the word the", "names of places", "punctuation"])
        with self.client.post(answer, data=urlencode(data), headers=FORM, allow_redirects=False,
                              name=f"answer: {kind}", catch_response=True) as sent:
            if sent.status_code != 302:
                sent.failure(f"answered {sent.status_code}, not a redirect")

    @task(1)
    def leaderboard(self) -> None:
        self.client.get("/leaderboard/", name="leaderboard")

    @task(2)
    def feature_page(self) -> None:
        s = site()
        self.client.get(f"/{s.model}/{s.source}/{random.choice(s.features)}", name="feature page")

    @task(2)
    def api(self) -> None:
        s = site()
        self.client.get(f"/api/feature/{s.model}/{s.source}/{random.randrange(s.n_features)}", name="api feature")
        self.client.get("/api/campaigns", name="api campaigns")


class ThinkingPlayer(Player):
    wait_time = between(1, 3)


def run_phase(url: str, user: type[FastHttpUser], clients: int, duration: float) -> dict[str, Any]:
    """``clients`` users of one kind for ``duration`` s (after a ramp-up that is not counted)."""
    env = Environment(user_classes=[user], host=url)
    runner = env.create_local_runner()
    runner.start(clients, spawn_rate=max(clients, 1))
    gevent.sleep(min(3.0, duration / 4))  # every client started and warm
    env.stats.reset_all()
    start = time.perf_counter()
    gevent.sleep(duration)
    total = env.stats.total
    wall = time.perf_counter() - start
    result = {"rps": total.num_requests / wall, "p50_ms": total.get_response_time_percentile(0.5),
              "p99_ms": total.get_response_time_percentile(0.99), "requests": total.num_requests,
              "errors": total.num_failures,
              "failures": [f"{e.method} {e.name}: {e.error} x{e.occurrences}" for e in env.stats.errors.values()][:5]}
    runner.quit()
    return result


def discover(url: str, pages: int) -> Site:
    """The campaign, its source, ``pages`` of its features and a few puzzle pages, and a static file."""
    with httpx.Client(base_url=url, timeout=30, trust_env=False, follow_redirects=True) as client:
        campaigns = client.get("/api/campaigns").json().get("items", [])
        running = [c for c in campaigns if c.get("running") and c.get("model") and c.get("source")]
        if not running:
            raise BenchError(f"{url} has no running campaign: run the bench with --prepare, or `featurepedia demo`")
        campaign = running[0]
        model, source = campaign["model"], campaign["source"]
        features = client.get(f"/api/models/{model}/sources").json().get("items", [])
        n_features = next((s["n_features"] for s in features if s["id"] == source), 0)
        if not n_features:
            raise BenchError(f"the campaign's source {model}/{source} has no features on {url}")
        home = client.get("/").text
        css = re.search(r'href="([^"]+site[^"]*\.css)"', home)
        if not css:
            raise BenchError(f"{url}/ links no site stylesheet to use as the static file")
        puzzles = []
        for _ in range(10):
            page = client.get(f"/play/{campaign['slug']}/")
            puzzles.append(str(page.url.raw_path.decode()))
        features = random.Random(0).sample(range(n_features), min(pages, n_features))
        return Site(campaign["slug"], model, source, n_features, css.group(1), features, sorted(set(puzzles)))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_healthy(url: str, process: subprocess.Popen[bytes] | None, log: Path, timeout_s: float = 120) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise BenchError(f"the server exited with {process.returncode}:\n{log.read_text()[-3000:]}")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(url + "/healthz", timeout=5, trust_env=False).status_code == 200:
                return
        time.sleep(0.3)
    raise BenchError(f"{url}/healthz did not answer 200 within {timeout_s:g} s:\n{log.read_text()[-3000:]}")


@contextlib.contextmanager
def embedded_server(port: int, env: dict[str, str], log: Path) -> Iterator[tuple[str, list[int]]]:
    """``featurepedia serve`` on 127.0.0.1:port; yields its address and process ids."""
    with open(log, "ab") as out:
        process = subprocess.Popen([sys.executable, "-m", "featurepedia.cli", "serve", "--port", str(port)],
                                   env=env, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(url, process, log)
        yield url, [process.pid]
    finally:
        process.terminate()
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            process.kill()


@contextlib.contextmanager
def production_stack(args: argparse.Namespace, env: dict[str, str], data_dir: Path,
                     log: Path) -> Iterator[tuple[str, list[int]]]:
    """The production stack (web workers, task worker, inference); yields its address and web process ids."""
    from featurepedia.web.stack import start_stack

    database = args.database_url or os.environ.get("FEATUREPEDIA_DATABASE_URL", "")
    redis = args.redis_url or os.environ.get("FEATUREPEDIA_REDIS_URL", "")
    if not database.startswith("postgres") or not redis.startswith("redis"):
        raise BenchError("--production needs a PostgreSQL --database-url and a --redis-url (or "
                         "FEATUREPEDIA_DATABASE_URL and FEATUREPEDIA_REDIS_URL) whose database holds a built source")
    port = args.port or free_port()
    stack = start_stack(database_url=database, redis_url=redis, data_dir=data_dir, port=port,
                        inference_port=args.inference_port or free_port(), model=args.model,
                        env={k: v for k, v in env.items() if k.startswith("FEATUREPEDIA_") and "DATABASE" not in k
                             and "REDIS" not in k}, log_path=log, web_workers=args.web_workers)
    try:
        yield stack.url, stack.pids("web-master") + stack.pids("web")
    finally:
        stack.stop()


def rss_mb(pids: list[int]) -> float | None:
    """The resident memory of these processes and their children, in MB (None when there are none)."""
    import psutil

    total, seen = 0, set()
    for pid in pids:
        try:
            root = psutil.Process(pid)
            for p in [root, *root.children(recursive=True)]:
                if p.pid not in seen:
                    seen.add(p.pid)
                    total += p.memory_info().rss
        except psutil.NoSuchProcess:
            continue
    return total / 2**20 if seen else None


def prepare(env: dict[str, str], model: str, source: str) -> None:
    """A campaign over the source and token-list explanations for its first 200 features (no scores)."""
    subprocess.run([sys.executable, "-m", "featurepedia.cli", "explain", "--model", model, "--source", source,
                    "--features", "0-199", "--explainer", "token-list", "--no-score", "--quiet"], env=env, check=True)
    code = ("import django, os; os.environ.setdefault('DJANGO_SETTINGS_MODULE', 'featurepedia.web.settings');"
            "django.setup(); from featurepedia.web.game.setup import ensure_default_campaign as e;"
            f"c = e({model!r}, {source!r}); print('campaign:', c); raise SystemExit(0 if c else 1)")
    subprocess.run([sys.executable, "-c", code], env=env, check=True)


def measure(url: str, pids: list[int], args: argparse.Namespace) -> dict[str, Any]:
    global SITE
    SITE = discover(url, args.pages)
    with httpx.Client(base_url=url, timeout=60, trust_env=False) as client:  # each page once: a warm cache
        for index in SITE.features:
            client.get(f"/{SITE.model}/{SITE.source}/{index}")
    run_phase(url, Player, args.clients, min(5.0, args.duration))  # warm connections
    phases = {"baseline": run_phase(url, Baseline, args.clients, args.duration),
              "flow": run_phase(url, Player, args.clients, args.duration),
              "static": run_phase(url, Static, args.clients, args.duration),
              "page": run_phase(url, Pages, args.clients, args.duration),
              "puzzle": run_phase(url, Puzzles, args.clients, args.duration)}
    rss_before = rss_mb(pids)
    phases["players"] = run_phase(url, ThinkingPlayer, args.players, args.duration)
    rss_after = rss_mb(pids)
    for name, p in phases.items():
        print(f"{name:9s} {p['rps']:8.1f} req/s  p50 {p['p50_ms']:5.0f} ms  p99 {p['p99_ms']:5.0f} ms  "
              f"errors {p['errors']}" + (f"  ({'; '.join(p['failures'])})" if p["failures"] else ""), file=sys.stderr)
    flow, base, page, static, puzzle = (phases[k] for k in ("flow", "baseline", "page", "static", "puzzle"))
    return {
        "rps": round(flow["rps"], 1), "baseline_rps": round(base["rps"], 1),
        "ratio": round(flow["rps"] / base["rps"], 3) if base["rps"] else None,
        "p99_ms": phases["players"]["p99_ms"], "errors": sum(p["errors"] for p in phases.values()),
        "rss_growth_mb": round(rss_after - rss_before, 1) if rss_before is not None and rss_after is not None
        else None,
        "page_rps": round(page["rps"], 1), "static_rps": round(static["rps"], 1),
        "page_ratio": round(page["rps"] / static["rps"], 3) if static["rps"] else None,
        "page_p99_ms": page["p99_ms"],
        "puzzle_rps": round(puzzle["rps"], 1),
        "puzzle_ratio": round(puzzle["rps"] / static["rps"], 3) if static["rps"] else None,
        "puzzle_p99_ms": puzzle["p99_ms"],
        "players_rps": round(phases["players"]["rps"], 1), "flow_p99_ms": flow["p99_ms"],
        "clients": args.clients, "players": args.players, "duration_s": args.duration,
        "mode": "url" if args.url else "production" if args.production else "embedded",
        "load_average": round(os.getloadavg()[0], 2),
    }


def report(result: dict[str, Any]) -> None:
    targets = dict(TARGETS)
    if result["mode"] == "embedded":
        targets["page_ratio"] = targets["puzzle_ratio"] = (">=", EMBEDDED_PAGE_RATIO)
    for name, (op, target) in targets.items():
        value = result.get(name)
        ok = value is not None and (value >= target if op == ">=" else value <= target)
        print(f"{name:14s} {value!s:>10}  target {op} {target}  {'ok' if ok else 'MISSED'}", file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=float, default=60.0, help="seconds per phase (default 60)")
    parser.add_argument("--clients", type=int, default=20, help="closed-loop clients (default 20)")
    parser.add_argument("--players", type=int, default=50, help="players waiting 1-3 s (default 50)")
    parser.add_argument("--pages", type=int, default=50,
                        help="how many feature pages the clients visit (a fixed random sample; default 50)")
    parser.add_argument("--url", help="a running server to measure instead of starting one")
    parser.add_argument("--production", action="store_true", help="start the production stack")
    parser.add_argument("--database-url", help="the production stack's PostgreSQL database")
    parser.add_argument("--redis-url", help="the production stack's Redis (cache, sessions, rate limits)")
    parser.add_argument("--web-workers", type=int, default=2, help="the production stack's web processes")
    parser.add_argument("--data-dir", type=Path, default=Path(os.environ.get("FEATUREPEDIA_DATA_DIR", "data")),
                        help="the data dir (embedded database, model cache; default FEATUREPEDIA_DATA_DIR or ./data)")
    parser.add_argument("--port", type=int, help="the server's port (default: a free one)")
    parser.add_argument("--inference-port", type=int, help="the production stack's inference port")
    parser.add_argument("--model", default="smollm2-135m", help="the model of the inference process and --prepare")
    parser.add_argument("--source", default="6-mlp", help="the source --prepare explains and makes a campaign of")
    parser.add_argument("--prepare", action="store_true", help="make a campaign with explanations first")
    args = parser.parse_args(argv)
    data_dir = args.data_dir.resolve()
    env = {**os.environ, **NO_LIMITS, "FEATUREPEDIA_DATA_DIR": str(data_dir)}
    if args.production:
        env.update(FEATUREPEDIA_MODE="production", FEATUREPEDIA_DATABASE_URL=args.database_url or
                   os.environ.get("FEATUREPEDIA_DATABASE_URL", ""),
                   FEATUREPEDIA_REDIS_URL=args.redis_url or os.environ.get("FEATUREPEDIA_REDIS_URL", ""),
                   FEATUREPEDIA_SECRET_KEY=os.environ.get("FEATUREPEDIA_SECRET_KEY", "bench-" + os.urandom(24).hex()))
    try:
        if args.prepare and not args.url:
            prepare(env, args.model, args.source)
        with tempfile.TemporaryDirectory(prefix="bench-web-") as tmp:
            log = Path(tmp) / "server.log"
            if args.url:
                server: contextlib.AbstractContextManager[tuple[str, list[int]]] = contextlib.nullcontext(
                    (args.url.rstrip("/"), []))
            elif args.production:
                server = production_stack(args, env, data_dir, log)
            else:
                server = embedded_server(args.port or free_port(), env, log)
            with server as (url, pids):
                result = measure(url, pids, args)
    except BenchError as err:
        print(f"bench/web.py: {err}", file=sys.stderr)
        return 2
    except subprocess.CalledProcessError as err:
        print(f"bench/web.py: {' '.join(map(str, err.cmd[:5]))} ... failed with code {err.returncode}", file=sys.stderr)
        return 2
    report(result)
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
