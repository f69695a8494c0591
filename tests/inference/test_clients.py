"""The in-process and HTTP clients: the same answers for every operation and the same errors."""

from __future__ import annotations

import copy
import socket
import threading

import pytest

from featurepedia.errors import NotFoundError, UnavailableError, UsageError
from featurepedia.inference import Sampling
from featurepedia.inference.client import InferenceClient, LocalClient, make_client
from featurepedia.inference.http import start_server
from featurepedia.inference.http_client import HttpClient
from featurepedia.inference.queries import (
    ActivationsQuery,
    AttributionQuery,
    SteerChatQuery,
    SteeredFeature,
    SteerQuery,
    TopFeaturesQuery,
    TopKQuery,
)
from featurepedia.inference.service import InferenceService, InferenceTimeoutError, QueueFullError
from featurepedia.lm.model import LanguageModel
from featurepedia.lm.pool import POOL, model_key
from featurepedia.lm.tiny import tiny_gpt2
from featurepedia.settings import Settings
from tests.inference.conftest import TEXTS, wait_until

CHAT = "tiny-chat"
TEMPLATE = ("{% for m in messages %}<|bos|>{{ m['role'] }}\n{{ m['content'] }}<|endoftext|>\n{% endfor %}"
            "{% if add_generation_prompt %}<|bos|>assistant\n{% endif %}")
MESSAGES = [{"role": "user", "content": "Paris is the capital"}]


def chat_model() -> LanguageModel:
    """tiny-gpt2 with a chat template of its own (the shared tiny tokenizer is left as it is)."""
    model = tiny_gpt2()
    tokenizer = copy.deepcopy(model.tokenizer)
    tokenizer.chat_template = TEMPLATE
    return LanguageModel(CHAT, model.hf, tokenizer, model.info)


@pytest.fixture(scope="module")
def clients():
    """A service on a chat-capable tiny model (put in the pool under its own id), behind both clients."""
    key = model_key(CHAT)
    POOL.get(key, chat_model)
    service = InferenceService(CHAT)
    server, _ = start_server(service)
    local, http = LocalClient.of(service), HttpClient(server.url)
    yield local, http
    http.close()
    server.shutdown()
    server.server_close()
    service.close()
    POOL.release(key)


CALLS = {
    "activations": ActivationsQuery(CHAT, "1-mlp", [0, 5, 255], [TEXTS[0], TEXTS[1]]),
    "activations of ids": ActivationsQuery(CHAT, "0-mlp", [3], [[1, 40, 41, 42]]),
    "top_features": TopFeaturesQuery(CHAT, ["1-mlp", "0-mlp"], TEXTS[0], num_results=7, sort_indexes=[2, 3],
                                     exclude={"0-mlp": [1, 2]}),
    "topk_by_token": TopKQuery(CHAT, "1-mlp", TEXTS[2], k=4, ignore_bos=False),
    "attribution": AttributionQuery(CHAT, "1-mlp", 3, TEXTS[0], 4, include_target=True),
    "attribution gradient": AttributionQuery(CHAT, "1-mlp", 3, TEXTS[0], 4, method="gradient_x_input"),
    "steer": SteerQuery(CHAT, TEXTS[1], [SteeredFeature("1-mlp", 3, 4.0), SteeredFeature("0-mlp", 1, -2.0)],
                        Sampling(n_tokens=6, temperature=0.7, seed=3, freq_penalty=0.5, top_logprobs=3),
                        strength_multiplier=1.5),
    "steer_chat": SteerChatQuery(CHAT, MESSAGES, [SteeredFeature("1-mlp", 3, 4.0)],
                                 default_messages=[*MESSAGES, {"role": "assistant", "content": "of"}],
                                 steer_special_tokens=False, sampling=Sampling(n_tokens=5, top_logprobs=2)),
}


@pytest.mark.parametrize("name", CALLS)
def test_both_clients_give_identical_answers(clients, name):
    query = CALLS[name]
    local, http = clients
    operation = name.split(" ")[0]
    mine = getattr(local, operation)(query)
    theirs = getattr(http, operation)(query)
    assert type(mine) is type(theirs)
    assert mine == theirs  # dataclass equality: every field, floats exactly (JSON keeps them)
    if name == "steer":
        assert mine.steered.logprobs and mine.steered.token_ids != mine.default.token_ids


def _errors(client: InferenceClient) -> list[tuple[type, int, str]]:
    out = []
    for query in [ActivationsQuery(CHAT, "1-mlp", [0], ["x" * 10_001]),
                  ActivationsQuery(CHAT, "1-mlp", [256], [TEXTS[0]]),
                  ActivationsQuery(CHAT, "bad", [0], [TEXTS[0]]),
                  SteerQuery(CHAT, TEXTS[1], [SteeredFeature("1-mlp", 3, float("nan"))]),
                  ActivationsQuery("no-such-model", "1-mlp", [0], [TEXTS[0]])]:
        try:
            client.activations(query) if isinstance(query, ActivationsQuery) else client.steer(query)
        except Exception as err:
            out.append((type(err), getattr(err, "status", None), str(err)))
    return out


def test_both_clients_raise_the_same_errors(clients):
    local, http = clients
    mine, theirs = _errors(local), _errors(http)
    assert len(mine) == 5
    assert [(s, m) for _, s, m in mine[:4]] == [(s, m) for _, s, m in theirs[:4]]
    assert [t for t, _, _ in theirs] == [UsageError] * 4 + [NotFoundError]
    assert "10,001 characters; the limit is 10,000" in theirs[0][2]
    assert "must be a finite number" in theirs[3][2]
    assert theirs[4][1] == 404 and "runs the model 'tiny-chat', not 'no-such-model'" in theirs[4][2]
    assert mine[4][1] == 404  # in-process: not an allowed model of this client


def test_http_maps_a_full_queue_to_queue_full_with_retry_after(make_service, gate):
    service = make_service(queue_size=1, timeout_s=5)
    server, _ = start_server(service)
    client = HttpClient(server.url)
    try:
        busy = threading.Thread(target=lambda: client.topk_by_token(TopKQuery("tiny-gpt2", "0-mlp", TEXTS[0])))
        busy.start()
        assert gate.entered.wait(10)
        service.submit(ActivationsQuery("tiny-gpt2", "1-mlp", [0], [TEXTS[1]]))
        with pytest.raises(QueueFullError) as refused:
            client.activations(ActivationsQuery("tiny-gpt2", "1-mlp", [0], [TEXTS[1]]))
        assert refused.value.status == 503 and refused.value.retry_after >= 1
        assert "queue of tiny-gpt2 is full" in str(refused.value)
        gate.open()
        busy.join(10)
    finally:
        client.close()
        server.shutdown()
        server.server_close()


def test_http_maps_a_timeout_to_504(make_service, gate):
    service = make_service(timeout_s=0.3)
    server, _ = start_server(service)
    client = HttpClient(server.url)
    try:
        with pytest.raises(InferenceTimeoutError, match="did not finish within 0.3 s") as err:
            client.topk_by_token(TopKQuery("tiny-gpt2", "0-mlp", TEXTS[0]))  # held by the gate
        assert err.value.status == 504
    finally:
        gate.open()
        client.close()
        server.shutdown()
        server.server_close()


def test_connection_refused_names_the_url_and_the_command():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # free once closed: nothing listens there
    client = make_client(Settings(inference_url=f"http://127.0.0.1:{port}"))
    assert isinstance(client, HttpClient)
    with pytest.raises(UnavailableError) as err:
        client.activations(ActivationsQuery("tiny-gpt2", "1-mlp", [0], [TEXTS[0]]))
    message = str(err.value)
    assert err.value.status == 503
    assert f"http://127.0.0.1:{port}" in message and f"featurepedia inference --port {port}" in message
    assert "FEATUREPEDIA_INFERENCE_URL" in message


def test_empty_url_means_in_process():
    client = make_client(Settings())
    assert isinstance(client, LocalClient)
    with pytest.raises(NotFoundError, match="not available for inference"):
        client.service("HuggingFaceTB/SmolLM2-135M")  # never a hub download named by a request
    client.close()


@pytest.mark.parametrize("held", [True, False], ids=["worker held", "free-running"])
def test_32_parallel_requests_are_each_answered_or_refused_and_the_server_stays_up(make_service, gate, held):
    if not held:
        gate.open()
    service = make_service(queue_size=4)
    server, _ = start_server(service)
    client = HttpClient(server.url)
    want = service.run(ActivationsQuery("tiny-gpt2", "1-mlp", [3], [TEXTS[0]]))  # 1-mlp: not held by the gate
    outcomes: list[object] = [None] * 32

    def call(i: int) -> None:
        try:
            outcomes[i] = client.activations(ActivationsQuery("tiny-gpt2", "1-mlp", [3], [TEXTS[0]]))
        except Exception as err:  # each must be an answer or a clean refusal
            outcomes[i] = err

    try:
        if held:
            blocker = threading.Thread(target=lambda: client.topk_by_token(TopKQuery("tiny-gpt2", "0-mlp", TEXTS[0])))
            blocker.start()
            assert gate.entered.wait(10)
        threads = [threading.Thread(target=call, args=(i,)) for i in range(32)]
        for t in threads:
            t.start()
        if held:
            wait_until(lambda: service.stats["rejected"] == 28)
            gate.open()
            blocker.join(10)
        for t in threads:
            t.join(30)
        answered = [o for o in outcomes if isinstance(o, list)]
        refused = [o for o in outcomes if isinstance(o, QueueFullError)]
        assert len(answered) + len(refused) == 32, [o for o in outcomes if not isinstance(o, list | QueueFullError)]
        assert answered and all(r.retry_after >= 1 for r in refused)
        for answer in answered:  # batched with each other, so equal to the answer alone up to rounding
            assert answer[0].token_ids == want[0].token_ids
            assert answer[0].features[0].values == pytest.approx(want[0].features[0].values, abs=1e-5)
        if held:
            assert len(answered) == 4 and len(refused) == 28
        assert client.info()["models"][0]["model"] == "tiny-gpt2"
        assert client.activations(ActivationsQuery("tiny-gpt2", "1-mlp", [3], [TEXTS[0]]))
    finally:
        client.close()
        server.shutdown()
        server.server_close()
