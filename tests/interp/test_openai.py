"""OpenAI-compatible endpoints: a local stand-in server, and endpoints that are down or too slow."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator

import pytest

from featurepedia.interp import ScorerUnavailable, get_explainer, get_scorer
from tests.openai_stub import ChatHandler, fake_chat_server


@pytest.fixture
def server() -> Iterator[str]:
    with fake_chat_server() as url:
        yield url


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
    ChatHandler.mode = "flaky"
    assert get_explainer("openai", base_url=server, **FAST).explain(small_records) == "animals"
    assert ChatHandler.calls == 2


def test_closed_port_is_unavailable(small_records):
    explainer = get_explainer("openai", base_url=f"http://127.0.0.1:{_closed_port()}/v1", **FAST)
    with pytest.raises(ScorerUnavailable, match="could not connect.*2 attempts.*FEATUREPEDIA_OPENAI_BASE_URL"):
        explainer.explain(small_records)


def test_timeout_is_unavailable(server, small_records):
    ChatHandler.mode = "slow"
    scorer = get_scorer("detection", backend="openai", base_url=server, **FAST)
    start = time.perf_counter()
    with pytest.raises(ScorerUnavailable, match="timed out after 0.3 s"):
        scorer.score("animals", small_records)
    assert time.perf_counter() - start < 3


def test_refused_request_mentions_key(server, small_records):
    ChatHandler.mode = "401"
    with pytest.raises(ScorerUnavailable, match="HTTP 401.*FEATUREPEDIA_OPENAI_API_KEY"):
        get_explainer("openai", base_url=server, **FAST).explain(small_records)
