"""Live activations: what the dashboards record, batched or not, with clear errors for bad requests."""

from __future__ import annotations

import pytest
import torch

from featurepedia.errors import UsageError
from featurepedia.inference import ActivationRequest, Limits, activations, batch_activations
from tests.inference.conftest import TEXTS, reference_acts


def test_values_are_the_sources_encoding_with_bos_as_zero(model, source):
    (result,) = activations(model, source, [0, 5, 17], [TEXTS[0]])
    ids = model.to_tokens(TEXTS[0])
    assert result.token_ids == ids and ids[0] == model.bos_token_id
    assert result.token_strings == [t.text for t in model.display(ids)]
    want = reference_acts(model, source, ids)
    for feature, index in zip(result.features, [0, 5, 17], strict=True):
        assert feature.index == index and feature.source_id == source.source_id
        assert feature.values[0] == 0.0  # BOS, as the dashboards store it
        torch.testing.assert_close(torch.tensor(feature.values[1:]), want[1:, index], atol=1e-5, rtol=1e-4)
        counted = want[1:, index]
        assert feature.max_index == int(counted.argmax()) + 1 and feature.min_index == int(counted.argmin()) + 1
        assert feature.max_value == pytest.approx(float(counted.max()), abs=1e-5)
        assert feature.min_value == pytest.approx(float(counted.min()), abs=1e-5)


def test_padded_batch_equals_one_text_at_a_time(model, source):
    batched = activations(model, source, [1, 2, 30], TEXTS)
    assert len({len(r.token_ids) for r in batched}) > 1  # the rows really are padded
    for text, result in zip(TEXTS, batched, strict=True):
        (alone,) = activations(model, source, [1, 2, 30], [text])
        assert alone.token_ids == result.token_ids
        for a, b in zip(alone.features, result.features, strict=True):
            torch.testing.assert_close(torch.tensor(a.values), torch.tensor(b.values), atol=1e-5, rtol=1e-4)
            assert a.max_index == b.max_index


def test_concurrent_requests_in_one_pass_equal_separate_ones(model, neurons, sae, sae0):
    requests = [ActivationRequest(sae0, [3], [TEXTS[1]]), ActivationRequest(neurons, [7, 8], TEXTS[:2]),
                ActivationRequest(sae, [0, 47], [TEXTS[2], TEXTS[0]])]
    together = batch_activations(model, requests)
    for request, results in zip(requests, together, strict=True):
        separate = activations(model, request.source, request.indices, request.texts)
        for a, b in zip(separate, results, strict=True):
            for fa, fb in zip(a.features, b.features, strict=True):
                assert (fa.source_id, fa.index) == (fb.source_id, fb.index)
                torch.testing.assert_close(torch.tensor(fa.values), torch.tensor(fb.values), atol=1e-5, rtol=1e-4)


def test_one_pass_stops_at_the_deepest_hook(model, sae0, monkeypatch):
    """A request for a layer-0 source never runs layer 1."""
    calls = []
    handle = model.blocks[1].register_forward_pre_hook(lambda m, a: calls.append(1))
    try:
        activations(model, sae0, [0], TEXTS)
    finally:
        handle.remove()
    assert calls == []


def test_token_ids_run_as_given(model, source):
    ids = model.to_tokens(TEXTS[2])
    (from_text,) = activations(model, source, [4], [TEXTS[2]])
    (from_ids,) = activations(model, source, [4], [ids])
    assert from_ids.features[0].values == from_text.features[0].values
    (no_bos,) = activations(model, source, [4], [ids[1:]])  # no BOS first: every position counts
    want = reference_acts(model, source, ids[1:])[:, 4]
    torch.testing.assert_close(torch.tensor(no_bos.features[0].values), want, atol=1e-5, rtol=1e-4)


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"texts": [""]}, "text is empty"),
    ({"texts": ["x" * 20_000]}, "20,000 characters; the limit is 10,000"),
    ({"texts": [[]]}, "token list is empty"),
    ({"texts": [[10**9]]}, "out of range"),
    ({"indices": [10**6]}, "out of range"),
    ({"indices": [-1]}, "out of range"),
    ({"indices": []}, "at least 1"),
    ({"indices": list(range(300))}, "the limit is 256"),
    ({"texts": ["a"] * 40}, "the limit is 32"),
])
def test_bad_requests_say_what_to_fix(tiny_llama, kwargs, message):
    from featurepedia.sources.neurons import NeuronSource

    args = {"indices": [0], "texts": ["hello"], **kwargs}
    with pytest.raises(UsageError, match=message):
        activations(tiny_llama, NeuronSource(tiny_llama, 0), args["indices"], args["texts"])


def test_token_limit_names_the_limit(tiny_llama):
    from featurepedia.sources.neurons import NeuronSource

    with pytest.raises(UsageError, match="tokens .BOS included.; the limit is 8"):
        activations(tiny_llama, NeuronSource(tiny_llama, 0), [0], [TEXTS[0]], Limits(max_tokens=8))
