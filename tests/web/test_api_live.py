"""The live API routes (activations, search, top-k, steering, attribution) on the pool's tiny-gpt2.

Answers are checked against the inference computations run directly on the same pooled model.
"""

from __future__ import annotations

import json
import threading
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import torch
from django.test import Client

from featurepedia.inference import activations, top_features
from featurepedia.inference.client import LocalClient
from featurepedia.lm.pool import get_model
from featurepedia.sources.neurons import NeuronSource
from featurepedia.web.catalog.models import Feature, LanguageModel, Source
from featurepedia.web.explanations.models import Explanation
from tests.web.test_api_errors import assert_error_shape

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("fresh_cache")]

MODEL = "tiny-gpt2"
TEXT = "The quick brown fox jumps over the lazy dog."


def make_tiny_catalog() -> None:
    """Catalog rows for the pool's tiny-gpt2: sources 0-mlp and 1-mlp (256 neurons each), a few features."""
    lm = LanguageModel.objects.create(slug=MODEL, name="Tiny GPT-2", n_layers=2, d_model=64)
    for layer in (0, 1):
        source = Source.objects.create(model=lm, slug=f"{layer}-mlp", kind="neurons",
                                       hook_name=f"blocks.{layer}.mlp.hook_post", n_features=256, status="ready",
                                       config={"source": {"nonnegative": False}, "config": {"active_fraction": 0.1}})
        for index in range(4):
            Feature.objects.create(source=source, index=index, max_act=1.0, density=0.5 if index == 0 else 0.01)


@pytest.fixture
def chat_model(db):
    """A chat-capable tiny model in the pool and the catalog (id ``tiny-chat``, source 1-mlp)."""
    from featurepedia.lm.pool import POOL, model_key
    from tests.inference.test_clients import CHAT, chat_model

    key = model_key(CHAT)
    POOL.get(key, chat_model)
    lm = LanguageModel.objects.create(slug=CHAT, name="Tiny chat")
    Source.objects.create(model=lm, slug="1-mlp", kind="neurons", hook_name="blocks.1.mlp.hook_post",
                          n_features=256, status="ready")
    yield CHAT
    POOL.release(key)


@pytest.fixture
def live(db, monkeypatch):
    """The tiny catalog, and an in-process client for it as the process's inference client."""
    make_tiny_catalog()
    client = LocalClient(allow_model=lambda m: m in (MODEL, "tiny-chat"), queue_size=4)
    monkeypatch.setattr("featurepedia.web.live.access.client", lambda: client)
    yield client
    client.close()


def post(path: str, body: object, client: Client | None = None):
    data = body if isinstance(body, str | bytes) else json.dumps(body)
    return (client or Client()).post(path, data=data, content_type="application/json")


def reference(index: int, text: str, layer: int = 0):
    model = get_model(MODEL)
    return activations(model, NeuronSource(model, layer), [index], [text])[0]


def test_activation_new_equals_the_computation(live):
    answer = post("/api/activation/new", {"feature": {"modelId": MODEL, "layer": "0-mlp", "index": "3"},
                                          "customText": TEXT})
    assert answer.status_code == 200, answer.content
    body, ref = answer.json(), reference(3, TEXT)
    assert body["tokens"] == ref.token_strings and body["values"] == pytest.approx(ref.features[0].values, abs=1e-5)
    assert body["maxValue"] == pytest.approx(ref.features[0].max_value, abs=1e-5)
    assert body["maxValueTokenIndex"] == ref.features[0].max_index and body["values"][0] == 0.0
    assert (body["modelId"], body["source"], body["layer"], body["index"]) == (MODEL, "0-mlp", "0-mlp", 3)


def test_activation_new_for_a_list_and_the_older_field_names(live):
    texts = [TEXT, "Paris is the capital"]
    answer = post("/api/activation/new/", {"neuron": {"modelId": MODEL, "source": "1-mlp", "index": 7},
                                           "customText": texts})
    assert answer.status_code == 200, answer.content
    for got, text in zip(answer.json(), texts, strict=True):
        assert got["values"] == pytest.approx(reference(7, text, layer=1).features[0].values, abs=1e-5)


def test_activation_source_lists_the_active_features(live):
    answer = post("/api/activation/source", {"modelId": MODEL, "source": "0-mlp", "customText": [TEXT]})
    assert answer.status_code == 200, answer.content
    (result,) = answer.json()["results"]
    model = get_model(MODEL)
    ref = top_features(model, NeuronSource(model, 0), TEXT, num_results=100)
    assert result["tokens"] == [t.text for t in ref.tokens]
    assert [f["index"] for f in result["activeFeatures"]] == [f.index for f in ref.features]


def test_search_all_ranks_over_every_built_source_with_explanations(live, make_user):
    feature = Feature.objects.get(source__slug="0-mlp", index=1)
    Explanation.objects.create(feature=feature, text="the letter o", author=make_user("ann"))
    answer = post("/api/search-all", {"modelId": MODEL, "sourceSet": "mlp", "text": TEXT, "selectedLayers": [],
                                      "sortIndexes": [], "ignoreBos": True, "densityThreshold": -1,
                                      "numResults": 100})
    assert answer.status_code == 200, answer.content
    body = answer.json()
    assert {r["layer"] for r in body["result"]} == {"0-mlp", "1-mlp"}
    model = get_model(MODEL)
    ref = top_features(model, NeuronSource(model, 0), TEXT, num_results=100)
    ours = {(r["index"]): r for r in body["result"] if r["layer"] == "0-mlp"}
    best = ref.features[0]
    assert ours[best.index]["maxValue"] == pytest.approx(best.max_value, abs=1e-5)
    assert ours[best.index]["values"] == pytest.approx(best.values, abs=1e-5)
    scores = [r["maxValue"] for r in body["result"]]
    assert scores == sorted(scores, reverse=True)
    if 1 in ours:
        assert ours[1]["neuron"]["explanations"][0]["description"] == "the letter o"


def test_search_all_density_threshold_leaves_dense_features_out(live):
    body = {"modelId": MODEL, "text": TEXT, "selectedLayers": ["0-mlp"], "numResults": 10}
    every = post("/api/search-all", {**body, "densityThreshold": -1}).json()["result"]
    top = every[0]["index"]
    Feature.objects.update_or_create(source=Source.objects.get(slug="0-mlp"), index=top, defaults={"density": 0.5})
    sparse = post("/api/search-all", {**body, "densityThreshold": 0.1}).json()["result"]
    assert top not in [r["index"] for r in sparse]
    assert [r["index"] for r in sparse][:9] == [r["index"] for r in every][1:]


def test_topk_by_token(live):
    answer = post("/api/search-topk-by-token/", {"modelId": MODEL, "source": "0-mlp", "text": TEXT,
                                                 "numResults": 3, "ignoreBos": True, "densityThreshold": 0})
    assert answer.status_code == 200, answer.content
    body = answer.json()
    ref = reference(0, TEXT)
    assert body["source"] == "0-mlp" and [r["position"] for r in body["results"]] == list(range(1, len(ref.tokens)))
    model = get_model(MODEL)
    acts = NeuronSource(model, 0).encode(model.run_to("blocks.0.mlp.hook_post",
                                                      torch.tensor([ref.token_ids])))[0]
    for row in body["results"]:
        assert len(row["topFeatures"]) == 3 and row["token"] == ref.tokens[row["position"]].text
        top = acts[row["position"]].topk(3)
        assert [f["featureIndex"] for f in row["topFeatures"]] == top.indices.tolist()


STEER = {"prompt": "The quick brown", "modelId": MODEL, "features": [{"modelId": MODEL, "layer": "1-mlp",
                                                                      "index": 5, "strength": 0}],
         "temperature": 0, "n_tokens": 8, "seed": 3, "strength_multiplier": 4, "freq_penalty": 0}


def test_steering_with_strength_zero_is_plain_generation(live):
    answer = post("/api/steer/", STEER)
    assert answer.status_code == 200, answer.content
    body = answer.json()
    assert body["STEERED"] == body["DEFAULT"] and body["STEERED"].startswith("The quick brown")
    assert body["steeredLogProbs"] is None and len(body["id"]) == 16
    share = urlsplit(body["shareUrl"])
    settings = parse_qs(share.query)
    assert share.path == "/steer/" and settings["features"] == ["1-mlp:5:0"] and settings["model"] == [MODEL]
    assert settings["prompt"] == ["The quick brown"] and settings["n_tokens"] == ["8"]


def test_steering_changes_the_text_and_gives_logprobs(live):
    strong = {**STEER, "features": [{**STEER["features"][0], "strength": 50}], "n_logprobs": 2}
    body = post("/api/steer", strong).json()
    assert body["STEERED"] != body["DEFAULT"]
    assert len(body["steeredLogProbs"]) == len(body["defaultLogProbs"]) > 0
    assert len(body["steeredLogProbs"][0]["topLogprobs"]) == 2


def test_steer_chat_needs_a_chat_template(live):
    messages = [{"role": "user", "content": "hi"}]
    answer = post("/api/steer-chat", {**STEER, "defaultChatMessages": messages, "steeredChatMessages": messages})
    assert "chat template" in assert_error_shape(answer, 400)["error"]


def test_steer_chat_replies_to_each_side(live, chat_model):
    steered = [{"role": "user", "content": "Paris is the capital"}]
    default = [{"role": "user", "content": "The quick brown fox"}]
    body = {**STEER, "modelId": chat_model, "features": [{"layer": "1-mlp", "index": 5, "strength": 0}],
            "defaultChatMessages": default, "steeredChatMessages": steered, "steer_special_tokens": False}
    answer = post("/api/steer-chat/", body)
    assert answer.status_code == 200, answer.content
    got = answer.json()
    assert got["STEERED"]["chat_template"][:1] == steered and got["DEFAULT"]["chat_template"][:1] == default
    assert got["STEERED"]["chat_template"][1]["role"] == "assistant"
    assert "Paris is the capital" in got["STEERED"]["raw"] and "quick brown" in got["DEFAULT"]["raw"]
    assert parse_qs(urlsplit(got["shareUrl"]).query)["prompt"] == ["Paris is the capital"]


def test_attribution_by_both_methods(live):
    for method in ("ablation", "gradient_x_input"):
        answer = post("/api/attribution", {"modelId": MODEL, "source": "0-mlp", "index": 2, "text": TEXT,
                                           "position": 4, "method": method})
        assert answer.status_code == 200, answer.content
        body = answer.json()
        assert body["method"] == method and len(body["attributions"]) == len(body["tokens"])
        assert body["attributions"][5:] == [0.0] * (len(body["tokens"]) - 5)
        assert body["activation"] == pytest.approx(reference(2, TEXT).features[0].values[4], abs=1e-5)


FEATURE = {"modelId": MODEL, "source": "0-mlp", "index": 1}
BAD = [
    ("/api/activation/new", {"feature": FEATURE, "customText": ""}, 400, "empty"),
    ("/api/activation/new", {"feature": FEATURE, "customText": "x" * 100_000}, 400, "the limit is 10,000"),
    ("/api/activation/new", {"feature": FEATURE, "customText": "a\u0000b"}, 400, "NUL"),
    ("/api/activation/new", '{"feature": {"modelId": "tiny-gpt2", "source": "0-mlp", "index": 1}, '
                            '"customText": "a\\ud800b"}', 400, "surrogate"),
    ("/api/activation/new", b'{"feature": {"modelId": "tiny-gpt2", "source": "0-mlp", "index": 1}, '
                            b'"customText": "a\xff\xfeb"}', 400, "not valid UTF-8"),
    ("/api/activation/new", {"feature": {**FEATURE, "modelId": "nope"}, "customText": TEXT}, 404, "no model"),
    ("/api/activation/new", {"feature": {**FEATURE, "source": "9-mlp"}, "customText": TEXT}, 404, "no source"),
    ("/api/activation/new", {"feature": {**FEATURE, "index": 256}, "customText": TEXT}, 404, "0 to 255"),
    ("/api/activation/new", {"feature": {**FEATURE, "index": -1}, "customText": TEXT}, 400, "negative"),
    ("/api/activation/new", {"feature": {**FEATURE, "index": "x"}, "customText": TEXT}, 400, "integer"),
    ("/api/activation/new", {"feature": FEATURE, "customText": [TEXT] * 33}, 400, "the limit is 32"),
    ("/api/activation/new", {"customText": TEXT}, 400, "name the feature"),
    ("/api/search-all", {"modelId": MODEL, "text": TEXT, "numResults": 101}, 400, "numResults"),
    ("/api/search-all", '{"modelId": "tiny-gpt2", "text": "a", "densityThreshold": NaN}', 400, "finite"),
    ("/api/search-all", {"modelId": MODEL, "text": TEXT, "sortIndexes": [99]}, 400, "not a token position"),
    ("/api/search-all", {"modelId": MODEL, "text": ["a"] * 33}, 400, "the limit is 32"),
    ("/api/search-all", {"modelId": MODEL, "text": TEXT, "selectedLayers": ["0-mlp", "7-mlp"]}, 404, "no source"),
    ("/api/search-topk-by-token", {"modelId": MODEL, "source": "0-mlp", "text": TEXT, "numResults": 21}, 400,
     "numResults"),
    ("/api/steer", {**STEER, "strength_multiplier": "Infinity"}, 400, "strength_multiplier"),
    ("/api/steer", '{"prompt": "a", "modelId": "tiny-gpt2", "features": [{"layer": "0-mlp", "index": 1, '
                   '"strength": Infinity}]}', 400, "finite"),
    ("/api/steer", {**STEER, "features": [{**STEER["features"][0], "strength": 1e9}]}, 400, "the limit is"),
    ("/api/steer", {**STEER, "features": [STEER["features"][0]] * 33}, 400, "the limit is 32"),
    ("/api/steer", {**STEER, "steer_method": "ORTHOGONAL_DECOMP"}, 400, "SIMPLE_ADDITIVE"),
    ("/api/steer", {**STEER, "n_tokens": 257}, 400, "n_tokens"),
    ("/api/steer", {**STEER, "seed": 2**70}, 400, "seed"),
    ("/api/steer", {**STEER, "prompt": ""}, 400, "empty"),
    ("/api/steer", {**STEER, "features": [{**STEER["features"][0], "modelId": "other"}]}, 400, "one model"),
    ("/api/attribution", {**FEATURE, "text": TEXT, "position": 99}, 400, "not a token position"),
    ("/api/attribution", {**FEATURE, "text": TEXT, "position": 1, "method": "shap"}, 400, "method"),
]


@pytest.mark.parametrize(("path", "body", "status", "says"), BAD, ids=[f"{p}-{s}" for p, _, _, s in BAD])
def test_bad_input_is_refused_in_the_error_shape(live, path, body, status, says):
    error = assert_error_shape(post(path, body), status)["error"]
    assert says in error


def test_a_full_queue_answers_503_with_retry_after_and_the_server_lives_on(live, monkeypatch):
    """32 requests at once on a queue of 2: each is answered (200) or refused cleanly (503 + Retry-After)."""
    small = LocalClient(allow_model=lambda m: m == MODEL, queue_size=2)
    monkeypatch.setattr("featurepedia.web.live.access.client", lambda: small)
    body = {"modelId": MODEL, "source": "1-mlp", "text": TEXT * 4, "numResults": 5}
    answers: list[Any] = []

    def ask() -> None:
        from django.db import connection

        try:
            answers.append(post("/api/search-topk-by-token", body))
        finally:
            connection.close()  # this thread's own connection (the test client does not close it)

    threads = [threading.Thread(target=ask) for _ in range(32)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    try:
        statuses = sorted(a.status_code for a in answers)
        assert len(answers) == 32 and set(statuses) <= {200, 503} and 200 in statuses, statuses
        for a in answers:
            if a.status_code == 503:
                assert int(a["Retry-After"]) >= 1 and "queue" in assert_error_shape(a, 503)["error"]
        assert post("/api/search-topk-by-token", body).status_code == 200
    finally:
        small.close()


LIVE_ROUTES = ["/api/activation/new", "/api/activation/source", "/api/search-all", "/api/search-topk-by-token",
               "/api/steer", "/api/steer-chat", "/api/attribution"]


def test_the_live_routes_are_in_the_schema_and_need_no_key(client):
    paths = client.get("/api/openapi.json").json()["paths"]
    for route in LIVE_ROUTES:
        assert "post" in paths[route] and "security" not in paths[route]["post"], route


def test_serving_loads_the_default_model_ahead_of_the_first_request(live, monkeypatch):
    from featurepedia.settings import reset_settings
    from featurepedia.web.server import warm_inference

    monkeypatch.setenv("FEATUREPEDIA_DEFAULT_MODEL", MODEL)
    reset_settings()
    try:
        warm_inference().join(30)
    finally:
        monkeypatch.undo()
        reset_settings()
    assert [m["model"] for m in live.info()["models"]] == [MODEL]


def test_steering_past_the_context_window_is_refused_not_a_crash(live):
    # tiny-gpt2 has 256 positions: a 5-token prompt and 256 new tokens run past them.
    answer = post("/api/steer", {**STEER, "prompt": "The quick brown fox", "n_tokens": 256})
    assert "context" in assert_error_shape(answer, 400)["error"]
