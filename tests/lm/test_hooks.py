"""Hook points record what a manual computation gives, stop the forward pass early, and steer."""

from __future__ import annotations

import pytest
import torch

from featurepedia.lm import HookPointError, ModelNotFoundError, list_models, load_model


def _ids(model, text="The quick brown fox jumps over the lazy dog. 0123456789"):
    return torch.tensor([model.to_tokens(text)])


@pytest.fixture(params=["tiny_gpt2", "tiny_llama"])
def tiny(request):
    return request.getfixturevalue(request.param)


def _mlp_input(model, ids, layer):
    """The input of block `layer`'s MLP, captured with a plain forward hook."""
    seen = []
    handle = model.blocks[layer].mlp.register_forward_hook(lambda m, args, out: seen.append(args[0]))
    with torch.no_grad():
        model.hf(input_ids=ids)
    handle.remove()
    return seen[0]


def test_mlp_hook_post_equals_manual_computation(tiny):
    ids = _ids(tiny)
    for layer in range(tiny.n_layers):
        x = _mlp_input(tiny, ids, layer)
        mlp = tiny.blocks[layer].mlp
        with torch.no_grad():
            if tiny.family.name == "llama":
                manual = mlp.act_fn(mlp.gate_proj(x)) * mlp.up_proj(x)
            else:
                manual = mlp.act(mlp.c_fc(x))
        recorded = tiny.run_to(f"blocks.{layer}.mlp.hook_post", ids)
        assert recorded.shape == (1, ids.shape[1], tiny.d_mlp)
        torch.testing.assert_close(recorded, manual)


def test_resid_post_equals_hidden_states(tiny):
    ids = _ids(tiny)
    with torch.no_grad():
        hidden = tiny.hf(input_ids=ids, output_hidden_states=True).hidden_states
    # hidden_states[L + 1] is the output of block L (the last one has the final norm applied, so skip it).
    recorded = tiny.run_to("blocks.0.hook_resid_post", ids)
    torch.testing.assert_close(recorded, hidden[1])


def test_run_to_stops_at_the_hook_layer(tiny_llama):
    called = []
    handles = [tiny_llama.blocks[1].register_forward_hook(lambda *a: called.append("block1")),
               tiny_llama.hf.lm_head.register_forward_hook(lambda *a: called.append("lm_head"))]
    try:
        tiny_llama.run_to("blocks.0.mlp.hook_post", _ids(tiny_llama))
    finally:
        for h in handles:
            h.remove()
    assert called == []


def test_run_through_feeds_every_consumer_in_one_pass_to_the_deepest_hook(tiny_llama):
    ids = _ids(tiny_llama)
    seen = []
    names = ["blocks.0.hook_resid_post", "blocks.0.mlp.hook_post", "blocks.0.hook_resid_post"]
    consumers = [(name, lambda act, i=i: seen.append((i, act.clone()))) for i, name in enumerate(names)]
    layer_1 = []
    handle = tiny_llama.blocks[1].register_forward_pre_hook(lambda m, a: layer_1.append(1))
    try:
        tiny_llama.run_through(consumers, ids)
    finally:
        handle.remove()
    assert layer_1 == []  # stopped after the deepest hook point (layer 0's output)
    assert [i for i, _ in seen] == [1, 0, 2]  # in forward order; one hook point's consumers in the order given
    for i, act in seen:
        torch.testing.assert_close(act, tiny_llama.run_to(names[i], ids), rtol=0, atol=0)


def test_batched_right_padding_matches_single_runs(tiny_llama):
    texts = ["Paris is the capital of France.", "The dog."]
    single = [tiny_llama.run_to("blocks.1.mlp.hook_post", _ids(tiny_llama, t)) for t in texts]
    ids = [tiny_llama.to_tokens(t) for t in texts]
    width = max(map(len, ids))
    pad = tiny_llama.tokenizer.pad_token_id
    batch = torch.tensor([i + [pad] * (width - len(i)) for i in ids])
    mask = torch.tensor([[1] * len(i) + [0] * (width - len(i)) for i in ids])
    acts = tiny_llama.run_to("blocks.1.mlp.hook_post", batch, attention_mask=mask)
    for row, (one, i) in enumerate(zip(single, ids, strict=True)):
        torch.testing.assert_close(acts[row, : len(i)], one[0], atol=1e-5, rtol=1e-4)


def test_hooks_can_steer_and_are_removed_afterwards(tiny_llama):
    ids = _ids(tiny_llama)
    clean = tiny_llama.logits(ids)

    def zero(act):
        return torch.zeros_like(act)

    ablated = tiny_llama.logits(ids, fwd_hooks=[("blocks.0.mlp.hook_post", zero)])
    assert not torch.allclose(clean, ablated)
    torch.testing.assert_close(tiny_llama.logits(ids), clean)  # the hook is gone


def test_logit_effects_shape_and_direction(tiny_gpt2):
    directions = torch.randn(3, tiny_gpt2.d_model)
    effects = tiny_gpt2.logit_effects(directions)
    assert effects.shape == (3, tiny_gpt2.vocab_size)
    torch.testing.assert_close(tiny_gpt2.logit_effects(2 * directions), 2 * effects)


def test_bad_hook_names_and_layers(tiny_llama):
    with pytest.raises(HookPointError, match="out of range.*2 layers"):
        tiny_llama.run_to("blocks.7.mlp.hook_post", _ids(tiny_llama))
    with pytest.raises(HookPointError, match="blocks.<layer>.mlp.hook_post"):
        tiny_llama.hook_point("blocks.0.attn.hook_z")


def test_unknown_model_lists_the_registered_ones():
    with pytest.raises(ModelNotFoundError) as err:
        load_model("gpt-9")
    for model_id in list_models():
        assert model_id in str(err.value)
    assert "smollm2-135m" in list_models()
