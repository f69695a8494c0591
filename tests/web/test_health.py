"""Health checks, security headers, the production database settings and the stack's Procfile and refusals
(in-process; the real stack is tests/web/test_stack.py)."""

from __future__ import annotations

import socket

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from featurepedia.settings import Settings, SettingsError, reset_settings
from featurepedia.web.settings import behind_proxy, database_config
from featurepedia.web.stack import check_production, parse_only, procfile

pytestmark = pytest.mark.django_db


def test_healthz_answers_without_touching_the_database(client):
    with CaptureQueriesContext(connection) as queries:
        response = client.get("/healthz")
    assert response.status_code == 200 and response.json() == {"ok": True}
    assert len(queries) == 0
    assert "no-cache" in response["Cache-Control"]


def test_readyz_is_ready_with_the_database_and_cache_and_in_process_inference(client):
    response = client.get("/readyz")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["ok"] and body["down"] == []
    assert body["checks"] == {"database": "ok", "cache": "ok", "inference": "ok (in-process)"}


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]  # closed when the socket is: nothing listens there


def test_readyz_names_the_inference_service_when_it_is_down(client, monkeypatch):
    monkeypatch.setenv("FEATUREPEDIA_INFERENCE_URL", f"http://127.0.0.1:{_closed_port()}")
    reset_settings()
    try:
        response = client.get("/readyz")
    finally:
        monkeypatch.delenv("FEATUREPEDIA_INFERENCE_URL")
        reset_settings()
    assert response.status_code == 503
    body = response.json()
    assert body["ok"] is False and body["down"] == ["inference"]
    assert body["checks"]["inference"].startswith("down: ConnectError")
    assert body["checks"]["database"] == "ok"


def test_readyz_names_the_database_when_it_is_down(client, monkeypatch):
    from featurepedia.web import health

    def refuse() -> str:
        raise ConnectionRefusedError("connection refused")

    monkeypatch.setitem(health.CHECKS, "database", refuse)
    body = client.get("/readyz").json()
    assert body["down"] == ["database"] and "connection refused" in body["checks"]["database"]


def test_pages_carry_the_security_headers(client, world):
    response = client.get("/")
    assert response.status_code == 200
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Referrer-Policy"] == "same-origin"
    assert response["X-Frame-Options"] == "DENY"
    assert response["Cross-Origin-Opener-Policy"] == "same-origin"
    assert "Strict-Transport-Security" not in response  # not without https


def test_https_behind_a_proxy_turns_on_hsts_secure_cookies_and_the_redirect(client, settings, world):
    proxy = behind_proxy("https://fp.example.org")
    assert proxy["SECURE_HSTS_SECONDS"] >= 31_536_000 and proxy["SECURE_SSL_REDIRECT"]
    assert proxy["SESSION_COOKIE_SECURE"] and proxy["CSRF_COOKIE_SECURE"]
    for name, value in proxy.items():
        setattr(settings, name, value)
    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "fp.example.org"]
    plain = client.get("/", HTTP_HOST="fp.example.org")
    assert plain.status_code == 301 and plain["Location"] == "https://fp.example.org/"
    secure = client.get("/", HTTP_HOST="fp.example.org", HTTP_X_FORWARDED_PROTO="https")
    assert secure.status_code == 200
    assert secure["Strict-Transport-Security"] == "max-age=31536000"
    # Health checks come over plain http from inside (load balancers, process managers): never redirected.
    assert client.get("/healthz", HTTP_HOST="fp.example.org").status_code == 200
    assert not behind_proxy("http://fp.example.org")["SECURE_HSTS_SECONDS"]


def test_production_postgres_uses_a_bounded_pool_with_a_connect_timeout():
    config = database_config("postgres://u@db:5432/fp", production=True, pool_size=6, connect_timeout=3)
    assert config["CONN_MAX_AGE"] == 0
    pool = config["OPTIONS"]["pool"]
    assert pool["max_size"] == 6 and pool["timeout"] == 3
    assert config["OPTIONS"]["connect_timeout"] == 3
    embedded = database_config("postgres://u@db:5432/fp", production=False, pool_size=6, connect_timeout=3)
    assert "pool" not in embedded["OPTIONS"]
    sqlite = database_config("sqlite:////tmp/x.sqlite3", production=True, pool_size=6, connect_timeout=3)
    assert "pool" not in sqlite.get("OPTIONS", {})


def test_process_settings_are_checked():
    with pytest.raises(SettingsError, match="FEATUREPEDIA_DB_POOL_SIZE is 0; it must be at least 1"):
        Settings.from_env({"FEATUREPEDIA_DB_POOL_SIZE": "0"})
    assert Settings.from_env({"FEATUREPEDIA_SEARCH_INDEX_DIR": "/var/fp-search"}).search_dir.as_posix() == \
        "/var/fp-search"
    assert Settings.from_env({"FEATUREPEDIA_DATA_DIR": "/d"}).search_dir.as_posix() == "/d/search"


def test_the_procfile_and_the_refusals():
    from featurepedia.errors import UsageError
    from featurepedia.settings import Settings

    text = procfile(port=3000, inference_port=3001, model="smollm2-135m", workers=2)
    assert text.splitlines() == [
        "web: FEATUREPEDIA_INFERENCE_URL=http://127.0.0.1:3001 gunicorn --config python:featurepedia.web.gunicorn_conf "
        "--bind 127.0.0.1:3000",
        "worker1: featurepedia worker", "worker2: featurepedia worker",
        "inference: featurepedia inference --model smollm2-135m --host 127.0.0.1 --port 3001"]
    assert procfile(model="m", only=parse_only("web")).startswith("web: gunicorn")
    with pytest.raises(UsageError, match="name one or more of web, worker, inference"):
        parse_only("web,cron")
    prod = {"FEATUREPEDIA_MODE": "production", "FEATUREPEDIA_SECRET_KEY": "s" * 50}
    with pytest.raises(UsageError, match="FEATUREPEDIA_MODE=production"):
        check_production(Settings.from_env({}), ("web",))
    with pytest.raises(UsageError, match="needs PostgreSQL"):
        check_production(Settings.from_env(prod), ("web",))
    pg = {**prod, "FEATUREPEDIA_DATABASE_URL": "postgres://u@h/db"}
    with pytest.raises(UsageError, match="needs Redis"):
        check_production(Settings.from_env(pg), ("web",))
    full = {**pg, "FEATUREPEDIA_REDIS_URL": "redis://h:6379/0"}
    with pytest.raises(UsageError, match="FEATUREPEDIA_INFERENCE_URL"):
        check_production(Settings.from_env(full), ("web", "worker"))
    check_production(Settings.from_env(full), ("web", "worker", "inference"))


def test_the_policy_forbids_inline_code_and_lets_only_embed_pages_be_framed(client, world):
    page = client.get("/")
    csp = page["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "style-src 'self'" in csp and "unsafe" not in csp
    assert "frame-ancestors 'none'" in csp and page["X-Frame-Options"] == "DENY"
    embed = client.get("/embed/tiny/1-mlp/0")
    assert "frame-ancestors *" in embed["Content-Security-Policy"] and not embed.has_header("X-Frame-Options")


def test_no_template_script_or_view_carries_inline_styles_scripts_or_handlers():
    """What the policy would block, found in the sources before a browser finds it on a page."""
    import re
    from pathlib import Path

    import featurepedia.web

    root = Path(featurepedia.web.__file__).parent
    inline = re.compile(r"""\sstyle=["']|\son[a-z]+=["']|<script(?![^>]*\ssrc=)(?![^>]*type=["']application/json)[^>]*>""")
    found = [f"{path.relative_to(root)}: {m.group(0).strip()}"
             for path in root.rglob("*") if path.suffix in (".html", ".py", ".js") and "vendor" not in path.parts
             for m in inline.finditer(path.read_text(errors="replace"))]
    assert not found, found


@pytest.mark.django_db(transaction=True)
def test_featurepedia_serve_sends_the_same_strict_policy(world):
    """``featurepedia serve``'s own server (waitress), not only Django's test client: the same policy on a page,
    a missing page and an /embed/ card, so a browser test in embedded mode meets what production enforces."""
    import threading
    import urllib.error
    import urllib.request

    from django.conf import settings

    from featurepedia.web.server import make_server

    server = make_server("127.0.0.1", 0)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{server.effective_port}"
    try:
        def policy_of(path: str) -> dict[str, list[str]]:
            try:
                response = urllib.request.urlopen(base + path, timeout=30)
            except urllib.error.HTTPError as error:  # a 404 is a response too, with its headers
                response = error
            header = response.headers["Content-Security-Policy"]
            assert header, f"{path}: no Content-Security-Policy header from featurepedia serve"
            return {d.split()[0]: d.split()[1:] for d in header.split(";") if d.strip()}

        expected = settings.CONTENT_SECURITY_POLICY["DIRECTIVES"]
        assert policy_of("/") == expected
        assert policy_of("/no-such-page/") == expected
        assert policy_of("/embed/tiny/1-mlp/0") == {**expected, "frame-ancestors": ["*"]}
        assert "'unsafe-eval'" not in expected["script-src"] and "'unsafe-inline'" not in expected["script-src"]
    finally:
        server.close()
        thread.join(timeout=10)
