"""The real production stack (`featurepedia stack`) over PostgreSQL and Redis: health, headers and the
content security policy, compressed immutable static files, a player's game flow scored by the task worker, and
a web worker killed with SIGKILL.

Runs in make test's PostgreSQL pass (skipped on SQLite; see tests/web/production_stack.py).
"""

from __future__ import annotations

import re
import time
from pathlib import Path

import httpx
import pytest

from featurepedia.web.stack import start_stack
from tests.web.production_stack import REDIS_URL, free_ports, production_stack, stack  # noqa: F401  (fixtures)

pytestmark = [pytest.mark.services, pytest.mark.django_db(transaction=True)]


def client(stack_) -> httpx.Client:
    return httpx.Client(base_url=stack_.url, timeout=30, trust_env=False, follow_redirects=False)


def test_the_stack_is_alive_and_ready_with_all_its_processes(stack):  # noqa: F811
    with client(stack) as http:
        assert http.get("/healthz").json() == {"ok": True}
        ready = http.get("/readyz")
    assert ready.status_code == 200, ready.text
    assert ready.json()["checks"] == {"database": "ok", "cache": "ok", "inference": "ok"}
    assert len(stack.pids("web")) == 2 and len(stack.pids("web-master")) == 1
    assert len(stack.pids("worker")) == 1 and len(stack.pids("inference")) == 1
    assert "gunicorn" in stack.log() and "featurepedia stack: starting web, worker, inference" in stack.log()


def test_pages_carry_security_headers_and_a_strict_content_security_policy(stack, world):  # noqa: F811
    with client(stack) as http:
        page = http.get("/")
        embed = http.get("/embed/tiny/1-mlp/0")
    assert page.status_code == 200
    csp = page.headers["Content-Security-Policy"]
    directives = dict(d.strip().split(" ", 1) for d in csp.split(";") if d.strip())
    assert directives["script-src"] == "'self'" and directives["style-src"] == "'self'"
    assert directives["default-src"] == "'self'" and directives["object-src"] == "'none'"
    assert directives["frame-ancestors"] == "'none'" and "unsafe" not in csp
    assert page.headers["X-Frame-Options"] == "DENY"
    assert page.headers["X-Content-Type-Options"] == "nosniff"
    assert page.headers["Referrer-Policy"] == "same-origin"
    assert page.headers["Server"] == "gunicorn"
    # /embed/ pages may be shown inside any site.
    assert "frame-ancestors *" in embed.headers["Content-Security-Policy"]
    assert "X-Frame-Options" not in embed.headers


def test_static_files_are_compressed_and_cached_for_ever(stack, world):  # noqa: F811
    with client(stack) as http:
        home = http.get("/").text
        css = re.search(r'href="(/static/featurepedia/site\.[0-9a-f]{12}\.css)"', home)
        assert css, "the stylesheet's name carries a hash of its content"
        for encoding in ("br", "gzip"):
            response = http.get(css.group(1), headers={"Accept-Encoding": encoding})
            assert response.status_code == 200 and response.headers["Content-Encoding"] == encoding
            assert "immutable" in response.headers["Cache-Control"]
            assert int(re.search(r"max-age=(\d+)", response.headers["Cache-Control"]).group(1)) >= 31_536_000
            assert ".tok" in response.text
        assert http.get("/static/featurepedia/site.css").status_code == 404  # only the hashed copies are served


def test_a_player_plays_and_the_worker_scores_the_explanation(stack, world, make_user):  # noqa: F811
    from allauth.account.models import EmailAddress

    from featurepedia.web.explanations.models import Explanation, ExplanationScore, Vote

    cats = world["features"][0]
    existing = Explanation.objects.create(feature=cats, text="the word cat", method="token-list")
    player = make_user("robin")
    EmailAddress.objects.create(user=player, email=player.email, verified=True, primary=True)
    with client(stack) as http:
        http.get("/accounts/login/")
        login = http.post("/accounts/login/", data={"login": player.email, "password": "pw-123456!",
                                                    "csrfmiddlewaretoken": http.cookies["csrftoken"]})
        assert login.status_code == 302, login.text[:2000]
        puzzle = http.get("/play/tiny-1/", follow_redirects=True)
        assert puzzle.status_code == 200 and "Submit explanation" in puzzle.text
        token = http.cookies["csrftoken"]
        answer = f"/play/tiny-1/{cats.pk}/answer"
        vote = http.post(answer, data={"kind": "vote", "explanation": existing.pk, "confirmed": "1",
                                       "csrfmiddlewaretoken": token})
        assert vote.status_code == 302, vote.text[:2000]
        assert "You voted for" in http.get(f"/play/tiny-1/{cats.pk}").text
        written = http.post(answer, data={"kind": "explain", "text": "small furry pets that purr",
                                          "csrfmiddlewaretoken": token})
        assert written.status_code == 302, written.text[:2000]
        assert http.get("/leaderboard/").status_code == 200
    assert Vote.objects.filter(explanation=existing, user=player, value=1).count() == 1
    mine = Explanation.objects.get(text="small furry pets that purr")
    deadline = time.monotonic() + 90
    while not ExplanationScore.objects.filter(explanation=mine).exists():  # the worker process scores it
        assert time.monotonic() < deadline, stack.log()[-3000:]
        time.sleep(0.5)


def test_a_web_worker_killed_with_sigkill_is_replaced_and_the_site_keeps_answering(stack):  # noqa: F811
    before = stack.pids("web")
    killed = stack.kill_web_worker()
    with client(stack) as http:
        for _ in range(20):
            assert http.get("/healthz").status_code == 200
    deadline = time.monotonic() + 30
    while len(stack.pids("web")) < 2:
        assert time.monotonic() < deadline, stack.log()[-3000:]
        time.sleep(0.2)
    assert killed in before and killed not in stack.pids("web")


def test_readyz_answers_503_naming_the_inference_service_when_it_is_down(production_stack, tmp_path):  # noqa: F811
    ports = free_ports(4)
    web, dead = ports[2], ports[3]  # after the session stack's two
    alone = start_stack(database_url=production_stack.env["FEATUREPEDIA_DATABASE_URL"], redis_url=REDIS_URL,
                        data_dir=Path(production_stack.env["FEATUREPEDIA_DATA_DIR"]), log_path=tmp_path / "web.log",
                        port=web, inference_port=dead, model="tiny-llama", only=["web"],
                        web_workers=1, env={"FEATUREPEDIA_INFERENCE_URL": f"http://127.0.0.1:{dead}"}, wait=False)
    try:
        deadline = time.monotonic() + 120
        while True:
            assert alone.process.poll() is None and time.monotonic() < deadline, alone.log()[-3000:]
            try:
                response = httpx.get(alone.url + "/readyz", timeout=10, trust_env=False)
                break
            except httpx.HTTPError:
                time.sleep(0.3)
    finally:
        alone.stop()
    assert response.status_code == 503
    body = response.json()
    assert body["down"] == ["inference"] and body["checks"]["database"] == "ok" and body["checks"]["cache"] == "ok"
