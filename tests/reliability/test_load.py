"""Load: simulated players (locust) on the production stack over the game flow, feature pages and the API,
for about 30 seconds. No response may be a 5xx or a broken connection, and every write the site answered
with success must be in the database afterwards. Throughput and latency are printed, not asserted (they
depend on the machine's load; bench/web.py measures them)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from tests.reliability.player import missing_writes
from tests.reliability.world_load import load_world

pytestmark = [pytest.mark.services, pytest.mark.slow]

SECONDS = int(os.environ.get("FEATUREPEDIA_TEST_LOAD_SECONDS", "30"))


def test_the_game_under_load_answers_no_5xx_and_loses_no_write(world, make_user, stack, tmp_path):
    data = load_world(world, make_user, players=20)
    site = stack(web_workers=2, FEATUREPEDIA_API_RATE_ANONYMOUS="0")
    plan = {"url": site.url, "cookies": data["cookies"], "campaign": data["campaign"],
            "feature_ids": data["feature_ids"], "feature_prefix": "/tiny/1-mlp",
            "feature_indices": [f.index for f in world["features"]], "users": 20, "seconds": SECONDS}
    (tmp_path / "plan.json").write_text(json.dumps(plan))
    done = subprocess.run([sys.executable, "-m", "tests.reliability.load", str(tmp_path / "plan.json"),
                           str(tmp_path / "result.json")], capture_output=True, text=True,
                          timeout=SECONDS + 180, env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)})
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads((tmp_path / "result.json").read_text())
    print(f"\nload: {result['requests']} requests in {result['seconds']} s ({result['rps']} req/s), "
          f"p50 {result['p50_ms']} ms, p99 {result['p99_ms']} ms, statuses {result['statuses']}, "
          f"{len(result['writes'])} confirmed writes; by route: {result['by_name']}")

    server_errors = {code: n for code, n in result["statuses"].items() if int(code) >= 500}
    assert not server_errors and not result["exception_count"], (server_errors, result["exceptions"], site.tail())
    assert result["requests"] >= 10 * SECONDS // 4, "the load test barely ran"
    writes = result["writes"]
    assert {w["kind"] for w in writes} >= {"vote", "explain", "skip"}, "the game flow was not exercised"
    assert not missing_writes(writes, data["users"])
