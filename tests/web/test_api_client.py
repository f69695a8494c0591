"""Neuronpedia's own Python client (`neuronpedia` 1.2.1, unmodified) against this site's API.

The client reads USE_LOCALHOST when it is imported and then always calls http://localhost:3000/api, so the
server here must listen on port 3000; the tests skip, saying so, when that port is taken.
"""

from __future__ import annotations

import importlib
import socket
import sys

import pytest

from featurepedia.inference import top_features
from featurepedia.lm.pool import get_model
from featurepedia.sources.neurons import NeuronSource
from featurepedia.web.explanations.models import Explanation, ExplanationScore
from tests.web.test_api_live import MODEL, TEXT, chat_model, make_tiny_catalog, reference

__all__ = ["chat_model"]  # a fixture, shared with the live route tests

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("fresh_cache")]

PORT = 3000  # fixed by the client: http://localhost:3000/api


def _port_taken() -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", PORT))
        except OSError:
            return True
    return False


@pytest.fixture
def server_on_3000():
    """This site served on localhost:3000 in a thread, sharing the test database."""
    from pytest_django.live_server_helper import LiveServer

    if _port_taken():
        pytest.skip(f"port {PORT} is taken (another server?): the neuronpedia client can only call "
                    f"http://localhost:{PORT}/api, so these tests need that port free")
    try:
        server = LiveServer(f"localhost:{PORT}")
    except OSError as err:
        pytest.skip(f"could not serve on port {PORT} for the neuronpedia client: {err}")
    yield server
    server.stop()


@pytest.fixture
def neuronpedia(monkeypatch, tmp_path):
    """The client module, imported afresh with USE_LOCALHOST=true (it reads the variable at import)."""
    monkeypatch.setenv("USE_LOCALHOST", "true")
    monkeypatch.setenv("NEURONPEDIA_API_KEY", "any-key-the-client-insists-on")
    monkeypatch.chdir(tmp_path)  # the client loads a .env from the working directory at import
    for name in [m for m in sys.modules if m == "neuronpedia" or m.startswith("neuronpedia.")]:
        monkeypatch.delitem(sys.modules, name)
    module = importlib.import_module("neuronpedia.requests.feature_request")
    assert module.FeatureRequest.BASE_URL == f"http://localhost:{PORT}/api"
    return module


def test_feature_request_get_reads_our_feature(server_on_3000, neuronpedia, world, make_user):
    cats = world["features"][0]
    e = Explanation.objects.create(feature=cats, text="the word cat", author=make_user("ann"))
    ExplanationScore.objects.create(explanation=e, scorer="form", value=0.7, status="ok")
    Explanation.objects.create(feature=cats, text="cats and kittens", method="llm:smollm2-135m")

    feature = neuronpedia.FeatureRequest().get("tiny", "1-mlp", 0)

    assert (feature.modelId, feature.source, feature.index) == ("tiny", "1-mlp", 0)
    assert feature.density == cats.density
    stored = list(cats.examples.all())
    assert len(feature.activations) == len(stored)
    by_tokens = {(tuple(x.tokens), tuple(x.values)) for x in stored}
    for activation in feature.activations:
        assert (activation.modelId, activation.source, activation.index) == ("tiny", "1-mlp", 0)
        assert (tuple(activation.tokens), tuple(activation.values)) in by_tokens
    top = feature.activations[0]
    assert top.quantileMax == top.quantileMin == 1.0 and top.quantileFraction is None
    assert [x.text for x in feature.explanations] == ["the word cat", "cats and kittens"]
    human, machine = feature.explanations
    assert (human.modelId, human.source, human.index, human.method) == ("tiny", "1-mlp", 0, "human")
    assert (machine.method, machine.explainer_model) == ("llm", "smollm2-135m")


def test_the_clients_not_found_error(server_on_3000, neuronpedia, world):
    import requests

    with pytest.raises(requests.exceptions.HTTPError, match="not found"):
        neuronpedia.FeatureRequest().get("tiny", "1-mlp", 99)


@pytest.fixture
def tiny_live(db, chat_model):
    """The tiny catalog, served in-process through the process's own inference client (embedded mode)."""
    from featurepedia.inference.client import reset_client

    make_tiny_catalog()
    reset_client()
    yield
    reset_client()


def test_activation_requests(server_on_3000, neuronpedia, tiny_live):
    from neuronpedia.requests.activation_request import ActivationRequest

    one = ActivationRequest().compute_activation_for_text(MODEL, "0-mlp", "3", TEXT)
    ref = reference(3, TEXT)
    assert (one.modelId, one.source, one.index) == (MODEL, "0-mlp", "3")
    assert one.tokens == ref.token_strings and one.values == pytest.approx(ref.features[0].values, abs=1e-5)
    many = ActivationRequest().compute_activation_for_texts(MODEL, "1-mlp", 7, [TEXT, "Paris"])
    assert [a.values for a in many] == [pytest.approx(reference(7, t, layer=1).features[0].values, abs=1e-5)
                                        for t in (TEXT, "Paris")]
    (result,) = ActivationRequest().compute_all_source_activations_for_text(MODEL, "0-mlp", [TEXT])
    assert result["tokens"] == ref.token_strings and result["activeFeatures"]


def test_source_activation_and_topk_requests(server_on_3000, neuronpedia, tiny_live):
    from neuronpedia.requests.source_activation_request import SourceActivationRequest
    from neuronpedia.requests.topk_by_token_request import TopKByTokenRequest

    model = get_model(MODEL)
    ref = top_features(model, NeuronSource(model, 0), TEXT, num_results=5)
    found = SourceActivationRequest().compute_top_features_for_text(MODEL, "0-mlp", TEXT, num_results=5)
    assert [(a.source, a.index) for a in found] == [("0-mlp", f.index) for f in ref.features]
    assert found[0].values == pytest.approx(ref.features[0].values, abs=1e-5)
    batch = SourceActivationRequest().compute_top_features_for_texts(MODEL, ["0-mlp", "1-mlp"], [TEXT, "Paris"])
    assert len(batch) == 2 and {a.source for a in batch[0]} <= {"0-mlp", "1-mlp"}
    by_token = TopKByTokenRequest().compute_top_features_by_token_for_text(MODEL, "0-mlp", TEXT, num_results=3)
    assert [r.position for r in by_token] == list(range(1, len(ref.tokens)))
    assert all(len(r.topFeatures) == 3 and r.topFeatures[0].feature.source == "0-mlp" for r in by_token)
    each = TopKByTokenRequest().compute_top_features_by_token_for_texts(MODEL, "0-mlp", [TEXT, "Paris"], num_results=2)
    assert [[r.position for r in rows] for rows in each][0] == [r.position for r in by_token] and len(each) == 2


def test_steer_requests(server_on_3000, neuronpedia, tiny_live, chat_model):
    from neuronpedia.np_feature import SteerFeature
    from neuronpedia.requests.steer_request import SteerChatRequest, SteerCompletionRequest

    zero = [SteerFeature(modelId=MODEL, source="1-mlp", index=5, strength=0)]
    plain = SteerCompletionRequest().steer_features(MODEL, zero, "The quick brown", n_tokens=6, freq_penalty=0.5)
    assert plain["STEERED"] == plain["DEFAULT"] and plain["shareUrl"].startswith("http://localhost:3000/steer/?")
    messages = [{"role": "user", "content": "Paris is the capital"}]
    chat = SteerChatRequest().steer_features(
        chat_model, [SteerFeature(modelId=chat_model, source="1-mlp", index=5, strength=40)], messages, messages,
        n_tokens=6)
    assert chat["STEERED"]["chat_template"][0] == messages[0] and chat["DEFAULT"]["raw"]
