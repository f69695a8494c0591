"""The load test's driver: locust, used as a library, plays the game against a running site.

Run as its own process (locust patches the standard library for gevent on import, which the test process
must not get): ``python -m tests.reliability.load PLAN.json RESULT.json``. The plan names the site, the
players' session cookies, the campaign and features, the number of simulated players and the duration.
Each simulated player opens puzzles and answers them (vote, write, flag, skip), and reads feature pages, the
leaderboard and the API. The result holds every response's status, connection errors, the writes the site
answered with success, and throughput and latency figures (reported, not asserted: see bench/web.py).
"""

from __future__ import annotations

import itertools
import json
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import gevent
from locust import HttpUser, between, events, task
from locust.env import Environment

from tests.reliability.player import Player

PLAN: dict[str, Any] = {}
PLAYERS: list[Player] = []
STATUSES: Counter[int] = Counter()
EXCEPTIONS: list[str] = []
_names: itertools.count = itertools.count()


@events.request.add_listener
def _count(request_type: str, name: str, response_time: float, response_length: int, response: Any = None,
           exception: BaseException | None = None, **kwargs: Any) -> None:
    if exception is not None and response is None or getattr(response, "status_code", 0) == 0:
        EXCEPTIONS.append(f"{request_type} {name}: {exception!r}")
    elif response is not None:
        STATUSES[response.status_code] += 1


class GamePlayer(HttpUser):
    wait_time = between(0.05, 0.5)

    def on_start(self) -> None:
        names = list(PLAN["cookies"])
        n = next(_names)
        name = names[n % len(names)]
        self.client.cookies.set("sessionid", PLAN["cookies"][name], domain="127.0.0.1")
        self.player = Player(self.client, name, PLAN["campaign"], PLAN["feature_ids"], seed=n)
        PLAYERS.append(self.player)
        self.indices = PLAN["feature_indices"]

    @task(6)
    def play(self) -> None:
        self.player.answer(*self.player.next_puzzle())

    @task(2)
    def feature_page(self) -> None:
        self.client.get(f"{PLAN['feature_prefix']}/{self.player.rng.choice(self.indices)}", name="feature page")

    @task(2)
    def api_feature(self) -> None:
        self.client.get(f"/api/feature{PLAN['feature_prefix']}/{self.player.rng.choice(self.indices)}",
                        name="/api/feature/[...]")

    @task(1)
    def leaderboard(self) -> None:
        self.client.get("/leaderboard/")

    @task(1)
    def api_lists(self) -> None:
        self.client.get("/api/campaigns")
        self.client.get("/api/leaderboard")


def run(plan: dict[str, Any]) -> dict[str, Any]:
    PLAN.update(plan)
    env = Environment(user_classes=[GamePlayer], host=plan["url"], events=events)
    runner = env.create_local_runner()
    started = time.monotonic()
    runner.start(plan["users"], spawn_rate=plan["users"])
    gevent.sleep(plan["seconds"])
    runner.quit()
    elapsed = time.monotonic() - started
    total = env.stats.total
    return {"requests": total.num_requests, "failures": total.num_failures, "statuses": dict(STATUSES),
            "exceptions": EXCEPTIONS[:50], "exception_count": len(EXCEPTIONS),
            "writes": [w for p in PLAYERS for w in p.writes], "seconds": round(elapsed, 1),
            "rps": round(total.num_requests / elapsed, 1),
            "p50_ms": total.get_response_time_percentile(0.5), "p99_ms": total.get_response_time_percentile(0.99),
            "by_name": {f"{e.method} {e.name}": {"n": e.num_requests, "p50_ms": e.get_response_time_percentile(0.5),
                                                  "max_ms": round(e.max_response_time)}
                        for e in env.stats.entries.values()}}


if __name__ == "__main__":
    result = run(json.loads(Path(sys.argv[1]).read_text()))
    Path(sys.argv[2]).write_text(json.dumps(result))
