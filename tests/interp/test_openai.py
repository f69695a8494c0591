"""OpenAI-compatible endpoints: a local stand-in server, and endpoints that are down or too slow."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from featurepedia.interp import ScorerUnavailable, get_explainer, get_scorer


class _Handler(BaseHTTPRequestHandler):
    mode = "ok"
    calls = 0

    def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
        type(self).calls += 1
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        if self.mode == "slow":
            time.sleep(1.0)
        if self.mode == "401":
            return self._send(401, {"error": {"message": "invalid api key"}})
        if self.mode == "flaky" and type(self).calls == 1:
            return self._send(503, {"error": "busy"})
        user = body["messages"][-1]["content"]
        if body.get("logprobs"):
            yes = -0.1 if "cat" in user or "dog" in user else -3.0
            message = {"role": "assistant", "content": "Yes"}
            logprobs = {"content": [{"token": "Yes", "logprob": yes,
                                     "top_logprobs": [{"token": "Yes", "logprob": yes},
                                                      {"token": "No", "logprob": -0.1 if yes < -1 else -3.0}]}]}
            choice = {"index": 0, "message": message, "logprobs": logprobs}
        else:
            choice = {"index": 0, "message": {"role": "assistant",
                                              "content": "the main thing this neuron does is find animals."}}
        self._send(200, {"choices": [choice], "usage": {"prompt_tokens": 100, "completion_tokens": 10}})

    def _send(self, status: int, payload: dict) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        try:
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (timeout test)

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def server() -> Iterator[str]:
    _Handler.mode, _Handler.calls = "ok", 0
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}/v1"
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


FAST = {"timeout": 0.3, "max_retries": 1, "backoff": 0.01}


def test_explainer_records_usage_and_cost(server, small_records):
    explainer = get_explainer("openai", base_url=server, api_key="k", model="m", price_input=1.0,
                              price_output=2.0)
    assert explainer.explain(small_records) == "animals"
    d = explainer.last_details
    assert d["prompt_tokens"] == 100 and d["completion_tokens"] == 10 and d["requests"] == 1
    assert d["cost_usd"] == pytest.approx((100 * 1.0 + 10 * 2.0) / 1e6)
    assert explainer.method == "llm:m"


def test_env_defaults(monkeypatch, server):
    from featurepedia.settings import reset_settings

    monkeypatch.setenv("FEATUREPEDIA_OPENAI_BASE_URL", server)
    monkeypatch.setenv("FEATUREPEDIA_OPENAI_MODEL", "env-model")
    monkeypatch.setenv("FEATUREPEDIA_OPENAI_PRICE_INPUT", "0.15")
    reset_settings()
    try:
        explainer = get_explainer("openai")
        assert explainer.client.base_url == server and explainer.client.model == "env-model"
        assert explainer.client.price_input == 0.15
    finally:
        monkeypatch.undo()
        reset_settings()


def test_detection_over_endpoint(server, small_records):
    result = get_scorer("detection", backend="openai", base_url=server, **FAST).score("animals", small_records)
    assert result.value == 1.0 and result.details["requests"] == 4 and result.details["model"]


def test_retry_after_server_error(server, small_records):
    _Handler.mode = "flaky"
    assert get_explainer("openai", base_url=server, **FAST).explain(small_records) == "animals"
    assert _Handler.calls == 2


def test_closed_port_is_unavailable(small_records):
    explainer = get_explainer("openai", base_url=f"http://127.0.0.1:{_closed_port()}/v1", **FAST)
    with pytest.raises(ScorerUnavailable, match="could not connect.*2 attempts.*FEATUREPEDIA_OPENAI_BASE_URL"):
        explainer.explain(small_records)


def test_timeout_is_unavailable(server, small_records):
    _Handler.mode = "slow"
    scorer = get_scorer("detection", backend="openai", base_url=server, **FAST)
    start = time.perf_counter()
    with pytest.raises(ScorerUnavailable, match="timed out after 0.3 s"):
        scorer.score("animals", small_records)
    assert time.perf_counter() - start < 3


def test_refused_request_mentions_key(server, small_records):
    _Handler.mode = "401"
    with pytest.raises(ScorerUnavailable, match="HTTP 401.*FEATUREPEDIA_OPENAI_API_KEY"):
        get_explainer("openai", base_url=server, **FAST).explain(small_records)
