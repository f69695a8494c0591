"""The HTTP server of ``featurepedia inference``: routes, the one error shape, limits on the request."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from featurepedia.inference.http import start_server
from featurepedia.inference.http_client import HttpClient
from featurepedia.inference.queries import ActivationsQuery
from tests.inference.conftest import TEXTS

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def server(make_service, gate):
    gate.open()
    srv, _ = start_server(make_service(), max_body=10_000)
    yield srv
    srv.shutdown()
    srv.server_close()


def _error(response: httpx.Response, status: int) -> str:
    body = response.json()
    assert response.status_code == status and body["status"] == status and body["ok"] is False
    assert set(body) == {"ok", "error", "status"} and body["error"]
    return str(body["error"])


@pytest.mark.parametrize(("body", "status", "says"), [
    (b"{not json", 400, "not UTF-8 JSON"),
    (b"\xff\xfe{}", 400, "not UTF-8 JSON"),
    (b"[1, 2]", 400, "the query must be an object with fields model, source, indices, texts"),
    (b'{"model": "tiny-gpt2", "source": "1-mlp", "indices": [0]}', 400, "missing the field 'texts'"),
    (b'{"model": "tiny-gpt2", "source": "1-mlp", "indices": ["0"], "texts": ["a"]}', 400,
     "the query.indices[0] must be an integer; got '0'"),
    (b'{"model": "tiny-gpt2", "source": "1-mlp", "indices": [0], "texts": ["a"], "x": 1}', 400,
     "unknown field(s) 'x'"),
    (b'{"model": "tiny-gpt2", "source": "1-mlp", "indices": [0], "texts": ["' + b"a" * 10_001 + b'"]}', 413,
     "the limit is 10,000"),
])
def test_bad_requests_get_the_error_shape(server, body, status, says):
    response = httpx.post(f"{server.url}/v1/activations", content=body)
    assert says in _error(response, status)


def test_routes_and_methods(server):
    assert "no route POST /v1/nope" in _error(httpx.post(f"{server.url}/v1/nope", content=b"{}"), 404)
    assert "/v1/steer-chat" in _error(httpx.get(f"{server.url}/elsewhere"), 404)
    assert "takes POST" in _error(httpx.get(f"{server.url}/v1/activations"), 405)
    assert "PUT is not served" in _error(httpx.put(f"{server.url}/v1/activations", content=b"{}"), 405)
    assert _error(httpx.request("OPTIONS", f"{server.url}/v1/activations"), 501)
    health = httpx.get(f"{server.url}/healthz").json()
    assert health["ok"] and health["service"]["model"] == "tiny-gpt2" and health["service"]["max_chars"] == 10_000


def test_a_body_without_a_length_is_refused(server):
    host, port = server.server_address[:2]
    with socket.create_connection((str(host), port), timeout=5) as s:
        s.sendall(b"POST /v1/activations HTTP/1.1\r\nHost: x\r\n\r\n")
        answer = b""
        while chunk := s.recv(4096):  # the server closes the connection after answering
            answer += chunk
    assert answer.startswith(b"HTTP/1.1 411") and b'"status": 411' in answer


def test_keep_alive_connections_are_reused(server):
    with httpx.Client(base_url=server.url) as http:
        for _ in range(3):
            assert http.get("/healthz").status_code == 200
        assert http.post("/v1/nope", content=b"{}").status_code == 404
        assert http.get("/healthz").json()["ok"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_featurepedia_inference_serves_a_model(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src"), "FEATUREPEDIA_DATA_DIR": str(tmp_path)}
    port = _free_port()
    proc = subprocess.Popen([sys.executable, "-m", "featurepedia.cli", "inference", "--model", "tiny-gpt2",
                             "--port", str(port)], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True)
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 120
        while True:
            try:
                health = httpx.get(f"{url}/healthz", timeout=2).json()
                break
            except httpx.TransportError:
                assert proc.poll() is None, proc.communicate()[0]
                assert time.monotonic() < deadline, "featurepedia inference did not start within 120 s"
                time.sleep(0.2)
        assert health["ok"] and health["service"]["model"] == "tiny-gpt2"
        client = HttpClient(url)
        (result,) = client.activations(ActivationsQuery("tiny-gpt2", "1-mlp", [3], [TEXTS[0]]))
        assert result.features[0].index == 3 and len(result.features[0].values) == len(result.token_ids)
        client.close()
    finally:
        proc.terminate()
        out = proc.communicate(timeout=20)[0]
    assert f"tiny-gpt2 at {url}/" in out
