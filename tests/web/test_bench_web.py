"""bench/web.py runs briefly against a live server and ends with its JSON line."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from featurepedia.web.explanations.models import Explanation

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.django_db(transaction=True)
def test_the_web_bench_prints_its_figures(live_server, world):
    from django.db import connection

    if connection.vendor == "sqlite":
        # The test server's threads share the test's one in-memory SQLite connection, which concurrent
        # clients break (savepoints vanish under each other); make test runs this in its PostgreSQL pass.
        pytest.skip("needs PostgreSQL: concurrent clients on the test server's shared SQLite connection")
    for f in world["features"]:
        Explanation.objects.create(feature=f, text=f"topic {f.index}", method="token-list")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), os.environ.get("PYTHONPATH", "")])}
    done = subprocess.run([sys.executable, str(ROOT / "bench" / "web.py"), "--url", live_server.url, "--duration", "1",
                           "--clients", "4", "--players", "4"], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    for key in ("rps", "baseline_rps", "ratio", "p99_ms", "errors", "rss_growth_mb", "page_rps", "static_rps",
                "page_ratio", "page_p99_ms"):
        assert key in result
    assert result["errors"] == 0, done.stderr[-2000:]
    assert result["rps"] > 0 and result["page_rps"] > 0 and result["baseline_rps"] > 0
    assert result["rss_growth_mb"] is None  # a server the bench did not start: its memory is not read
