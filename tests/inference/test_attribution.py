"""Token attribution: zero-embedding ablation against one-at-a-time runs; later tokens change nothing."""

from __future__ import annotations

import pytest
import torch

from featurepedia.errors import UsageError
from featurepedia.inference import ablation_attribution, gradient_attribution
from tests.inference.conftest import TEXTS

TEXT = TEXTS[0]


def _zeroed_run(model, source, ids, position):
    """[pos, F] activations over the whole text with one token's input embedding zeroed, via ``run_to``."""
    def zero(module, args, out):
        out = out.clone()
        out[:, position] = 0.0
        return out

    handle = model.hf.get_input_embeddings().register_forward_hook(zero)
    try:
        return source.encode(model.run_to(source.hook_name, torch.tensor([ids])))[0].float()
    finally:
        handle.remove()


def _feature(model, source, ids, target):
    """A feature that is active at the target (so the attributions are not all trivially 0)."""
    acts = source.encode(model.run_to(source.hook_name, torch.tensor([ids])))[0]
    return int(acts[target].argmax())


def test_ablation_equals_removing_each_token_one_at_a_time(model, source):
    ids = model.to_tokens(TEXT)
    target = 6
    index = _feature(model, source, ids, target)
    result = ablation_attribution(model, source, index, TEXT, target)
    full = source.encode(model.run_to(source.hook_name, torch.tensor([ids])))[0].float()
    assert result.activation == pytest.approx(float(full[target, index]), abs=1e-5)
    assert result.positions == list(range(target)) and result.method == "ablation"
    for p in range(target):
        want = float(full[target, index] - _zeroed_run(model, source, ids, p)[target, index])
        assert result.attributions[p] == pytest.approx(want, abs=1e-5)
    assert any(abs(a) > 1e-4 for a in result.attributions[:target])
    assert result.attributions[target:] == [0.0] * (len(ids) - target)
    assert len(result.tokens) == len(ids)


def test_ablating_a_later_token_changes_nothing(model, source):
    ids = model.to_tokens(TEXT)
    target = 4
    index = _feature(model, source, ids, target)
    later = [target + 1, target + 3, len(ids) - 1]
    result = ablation_attribution(model, source, index, TEXT, target, positions=later)
    assert result.positions == later
    assert [result.attributions[p] for p in later] == [0.0, 0.0, 0.0]  # computed, and exactly 0
    full = source.encode(model.run_to(source.hook_name, torch.tensor([ids])))[0].float()
    for p in later:  # the independent path says the same
        assert float(_zeroed_run(model, source, ids, p)[target, index]) == pytest.approx(float(full[target, index]),
                                                                                      abs=1e-6)


def test_include_target_and_batches_of_any_size(model, neurons):
    ids = model.to_tokens(TEXT)
    target = 7
    index = _feature(model, neurons, ids, target)
    one_pass = ablation_attribution(model, neurons, index, TEXT, target, include_target=True)
    assert one_pass.positions == list(range(target + 1)) and one_pass.attributions[target] != 0.0
    chunked = ablation_attribution(model, neurons, index, TEXT, target, include_target=True, max_batch=3)
    torch.testing.assert_close(torch.tensor(chunked.attributions), torch.tensor(one_pass.attributions),
                               atol=1e-5, rtol=1e-4)


def test_gradient_x_input_matches_autograd_over_the_full_text(model, source):
    ids = model.to_tokens(TEXT)
    target = 5
    index = _feature(model, source, ids, target)
    with torch.inference_mode():  # as a service worker calls it
        result = gradient_attribution(model, source, index, TEXT, target)
    embeds = model.hf.get_input_embeddings()(torch.tensor([ids])).detach().requires_grad_(True)
    hidden = {}
    hook = source.hook_name
    with model.hooks([(hook, lambda act: hidden.setdefault("h", act))]):
        model.hf(inputs_embeds=embeds)
    source.encode(hidden["h"])[0, target, index].backward()
    want = (embeds.grad * embeds).sum(-1)[0].detach()
    torch.testing.assert_close(torch.tensor(result.attributions), want, atol=1e-5, rtol=1e-4)
    assert result.attributions[target + 1:] == [0.0] * (len(ids) - target - 1)


def test_gradient_leaves_the_models_parameters_without_grad(tiny_llama):
    from featurepedia.sources.neurons import NeuronSource

    for p in tiny_llama.hf.parameters():
        p.grad = None
    gradient_attribution(tiny_llama, NeuronSource(tiny_llama, 1), 3, TEXT, 4)
    assert all(p.grad is None for p in tiny_llama.hf.parameters())


def test_bad_targets(tiny_llama):
    from featurepedia.sources.neurons import NeuronSource

    source = NeuronSource(tiny_llama, 1)
    n = len(tiny_llama.to_tokens(TEXT))
    with pytest.raises(UsageError, match=f"target position {n} is not a token position"):
        ablation_attribution(tiny_llama, source, 0, TEXT, n)
    with pytest.raises(UsageError, match="out of range"):
        gradient_attribution(tiny_llama, source, 10**5, TEXT, 1)
