"""EleutherAI's sparsify format: encode equals sparsify's computation, dashboards and live inference run on it,
and what we cannot read (transcoders, other models' hook points) is refused clearly."""

from __future__ import annotations

import json

import pytest
import torch
from safetensors.torch import save_file

from featurepedia.sources import SourceError, source_for
from featurepedia.sources.sae import GroupMaxSAE, TopKSAE

N_LATENTS = 96


def save_sparsify(folder, d_in, num_latents=N_LATENTS, k=8, dtype=torch.float32, seed=0, **cfg):
    """A sparsify folder as ``SparseCoder.save_to_disk`` writes one: cfg.json (its config's fields + d_in)
    and sae.safetensors (the module's parameters). Returns the float32 tensors."""
    folder.mkdir(parents=True, exist_ok=True)
    config = {"activation": "topk", "expansion_factor": 32, "normalize_decoder": True, "num_latents": num_latents,
              "k": k, "multi_topk": False, "skip_connection": False, "transcode": False, **cfg, "d_in": d_in}
    (folder / "cfg.json").write_text(json.dumps(config))
    n = num_latents or d_in * config["expansion_factor"]
    gen = torch.Generator().manual_seed(seed)
    # The tiny models' residual stream has norm ~0.3: this scale gives pre-activations of std ~1.
    tensors = {"encoder.weight": torch.randn(n, d_in, generator=gen) * 30 / d_in**0.5,
               "encoder.bias": torch.randn(n, generator=gen) * 0.5 - 0.5,
               "W_dec": torch.nn.functional.normalize(torch.randn(n, d_in, generator=gen), dim=-1),
               "b_dec": torch.randn(d_in, generator=gen) * 0.05}
    save_file({name: t.to(dtype).contiguous() for name, t in tensors.items()}, str(folder / "sae.safetensors"))
    return {name: t.to(dtype).float() for name, t in tensors.items()}


def sparsify_encode(t, x, k, activation="topk"):
    """sparsify's SparseCoder.encode (fused_encoder) as dense activations: relu of the pre-activations of
    x - b_dec, then the k largest (topk) or each of k groups' largest (groupmax)."""
    pre = torch.relu((x - t["b_dec"]) @ t["encoder.weight"].T + t["encoder.bias"])
    if activation == "topk":
        values, indices = pre.topk(k, dim=-1, sorted=False)
    else:
        values, indices = pre.unflatten(-1, (k, -1)).max(dim=-1)
        indices = indices + torch.arange(0, pre.shape[-1], pre.shape[-1] // k)
    return torch.zeros_like(pre).scatter(-1, indices, values)


def _hidden(model, hook="blocks.1.hook_resid_post"):
    return model.run_to(hook, torch.tensor([model.to_tokens("The quick brown fox jumps over the lazy dog.")]))


@pytest.mark.parametrize(("activation", "dtype"), [("topk", torch.float32), ("topk", torch.bfloat16),
                                                   ("groupmax", torch.float32)])
def test_encode_equals_sparsify(tmp_path, tiny_llama, activation, dtype):
    folder = tmp_path / "layers.1"
    tensors = save_sparsify(folder, tiny_llama.d_model, activation=activation, dtype=dtype)
    source = source_for(tiny_llama, "1-res-sae", sae_path=folder)
    assert isinstance(source, GroupMaxSAE if activation == "groupmax" else TopKSAE)
    assert source.hook_name == "blocks.1.hook_resid_post" and source.n_features == N_LATENTS
    assert source.dtype == torch.float32 and source.nonnegative
    hidden = _hidden(tiny_llama)
    acts = source.encode(hidden)
    torch.testing.assert_close(acts, sparsify_encode(tensors, hidden, 8, activation), atol=1e-5, rtol=1e-4)
    assert ((acts > 0).sum(-1) <= 8).all() and (acts > 0).sum() > 8
    torch.testing.assert_close(source.decoder_directions(), tensors["W_dec"])
    torch.testing.assert_close(source.reconstruct(hidden), acts @ tensors["W_dec"] + tensors["b_dec"])
    config = source.config()
    assert config["format"] == "sparsify" and config["architecture"] == activation
    assert config["sae_cfg"]["sparsify_cfg"]["activation"] == activation


def test_expansion_factor_and_one_folder_per_hook_point(tmp_path, tiny_llama):
    """num_latents 0 means d_in * expansion_factor; a training output folder holds one SAE per hook point."""
    save_sparsify(tmp_path / "out" / "layers.0", tiny_llama.d_model, num_latents=0, expansion_factor=2, seed=1)
    save_sparsify(tmp_path / "out" / "layers.1", tiny_llama.d_model, seed=2)
    zero = source_for(tiny_llama, "0-res-sae", sae_path=tmp_path / "out")
    assert zero.hook_name == "blocks.0.hook_resid_post" and zero.n_features == 2 * tiny_llama.d_model
    assert zero.path == tmp_path / "out" / "layers.0"
    one = source_for(tiny_llama, "1-res-eleuther", sae_path=tmp_path / "out")
    assert one.hook_name == "blocks.1.hook_resid_post" and one.source_id == "1-res-eleuther"
    (tmp_path / "out" / "layers.0").rename(tmp_path / "out" / "layers.7")
    with pytest.raises(SourceError, match=r"no sparsify SAE for blocks.0.hook_resid_post \(a folder named "
                                          r"layers.0\); it has: layers.1, layers.7"):
        source_for(tiny_llama, "0-res-sae", sae_path=tmp_path / "out")


def test_gpt2_names_and_mlp_neurons(tmp_path, tiny_gpt2):
    """GPT-2's blocks are h.N; h.N.mlp.act's output is the MLP neurons, our mlp.hook_post."""
    save_sparsify(tmp_path / "h.1", tiny_gpt2.d_model)
    assert source_for(tiny_gpt2, "1-res-sae", sae_path=tmp_path / "h.1").hook_name == "blocks.1.hook_resid_post"
    tensors = save_sparsify(tmp_path / "h.0.mlp.act", tiny_gpt2.d_mlp)
    neurons = source_for(tiny_gpt2, "0-mlp-sae", sae_path=tmp_path / "h.0.mlp.act")
    assert neurons.hook_name == "blocks.0.mlp.hook_post" and neurons.d_in == 256
    hidden = _hidden(tiny_gpt2, "blocks.0.mlp.hook_post")
    torch.testing.assert_close(neurons.encode(hidden), sparsify_encode(tensors, hidden, 8), atol=1e-5, rtol=1e-4)


def test_hook_points_the_model_lacks(tmp_path, tiny_llama, tiny_gpt2):
    save_sparsify(tmp_path / "layers.1", tiny_gpt2.d_model)
    with pytest.raises(SourceError, match=r"reads hook point 'layers.1', which tiny-gpt2 does not have: its hook "
                                          r"points are named 'h.N'"):
        source_for(tiny_gpt2, "1-res-sae", sae_path=tmp_path / "layers.1")
    save_sparsify(tmp_path / "layers.5", tiny_llama.d_model)
    with pytest.raises(SourceError, match=r"does not fit tiny-llama: layer 5 is out of range .* 2 layers"):
        source_for(tiny_llama, "5-res-sae", sae_path=tmp_path / "layers.5")
    save_sparsify(tmp_path / "layers.1.self_attn", tiny_llama.d_model)
    with pytest.raises(SourceError, match=r"'layers.1.self_attn', which Featurepedia does not read; it reads "
                                          r"'layers.N'"):
        source_for(tiny_llama, "1-res-sae", sae_path=tmp_path / "layers.1.self_attn")
    with pytest.raises(SourceError, match=r"not the hook point asked for, blocks.0.hook_resid_post; pick the "
                                          r"folder named layers.0"):
        source_for(tiny_llama, "0-res-sae", sae_path=tmp_path / "layers.1", hook_name="blocks.0.hook_resid_post")
    with pytest.raises(SourceError, match="a gated MLP's neurons"):
        source_for(tiny_llama, "0-mlp-sae", sae_path=tmp_path)


def test_a_renamed_folder_takes_the_hook_from_the_source_id(tmp_path, tiny_llama):
    save_sparsify(tmp_path / "my-sae", tiny_llama.d_model)
    assert source_for(tiny_llama, "0-res-sae", sae_path=tmp_path / "my-sae").hook_name == "blocks.0.hook_resid_post"


def test_wrong_width_shape_nan_and_truncation(tmp_path, tiny_llama):
    d = tiny_llama.d_model
    save_sparsify(tmp_path / "a" / "layers.1", 100)
    with pytest.raises(SourceError, match=r"d_in=100 but blocks.1.hook_resid_post of tiny-llama has width 64"):
        source_for(tiny_llama, "1-res-sae", sae_path=tmp_path / "a" / "layers.1")

    folder = tmp_path / "b" / "layers.1"
    tensors = save_sparsify(folder, d)
    save_file({**tensors, "encoder.weight": torch.zeros(N_LATENTS - 1, d)}, str(folder / "sae.safetensors"))
    with pytest.raises(SourceError, match=r"encoder.weight has shape \(95, 64\), expected \(96, 64\) from cfg.json "
                                          r"\(d_in=64, num_latents=96\)"):
        source_for(tiny_llama, "1-res-sae", sae_path=folder)

    tensors["W_dec"][3, 5] = float("nan")
    save_file(tensors, str(folder / "sae.safetensors"))
    with pytest.raises(SourceError, match=r"W_dec holds 1 NaN or infinite value\(s\)"):
        source_for(tiny_llama, "1-res-sae", sae_path=folder)

    save_sparsify(folder, d)
    data = (folder / "sae.safetensors").read_bytes()
    (folder / "sae.safetensors").write_bytes(data[: len(data) // 2])
    with pytest.raises(SourceError, match=r"sae.safetensors is corrupt or not a safetensors file .*download it again"):
        source_for(tiny_llama, "1-res-sae", sae_path=folder)


@pytest.mark.parametrize(("cfg", "message"), [
    ({"transcode": True}, "is a sparsify transcoder"),
    ({"skip_connection": True}, "skip connection"),
    ({"signed": True}, "signed latents"),
    ({"activation": "relu"}, "activation 'relu' is not supported; supported: topk, groupmax"),
    ({"k": 0}, r"needs 0 < k <= num_latents \(96\); found k=0"),
    ({"activation": "groupmax", "k": 7}, r"splits num_latents \(96\) into k=7"),
    ({"num_latents": "many"}, "needs a non-negative integer 'num_latents'; found 'many'"),
])
def test_what_sparsify_folders_we_refuse(tmp_path, tiny_llama, cfg, message):
    folder = tmp_path / "layers.1"
    save_sparsify(folder, tiny_llama.d_model)
    config = json.loads((folder / "cfg.json").read_text())
    (folder / "cfg.json").write_text(json.dumps({**config, **cfg}))
    with pytest.raises(SourceError, match=message):
        source_for(tiny_llama, "1-res-sae", sae_path=folder)


def test_dashboards_build_on_a_sparsify_sae(tmp_path, tiny_llama):
    from featurepedia.corpus import ContextSpec, iter_contexts
    from featurepedia.dashboards import ParquetSink, RunConfig, read_features, run_dashboards

    folder = tmp_path / "sparsify" / "layers.1"
    save_sparsify(folder, tiny_llama.d_model)
    config = RunConfig(model="tiny-llama", source="1-res-sae", sae_path=str(folder), n_tokens=32 * 30,
                       batch_size=16, top_k=5, quantile_bins=4, per_bin=2, n_negative=3,
                       contexts=ContextSpec(ctx_len=32, seed=0))
    source = source_for(tiny_llama, config.source, sae_path=config.sae_path)
    run_dashboards(tiny_llama, source, config, ParquetSink(tmp_path / "bundle"), tmp_path / "run", progress=False)
    features = [f for chunk in read_features(tmp_path / "bundle") for f in chunk]
    assert [f.index for f in features] == list(range(N_LATENTS))
    contexts = list(iter_contexts(tiny_llama.tokenizer, config.contexts, config.n_contexts))
    acts = source.encode(tiny_llama.run_to(source.hook_name, torch.tensor(contexts)))[:, 1:, :]  # BOS excluded
    live = [f for f in range(N_LATENTS) if (acts[:, :, f] > 0).any()]
    assert len(live) >= 8  # TopK with k=8 over ~900 tokens: many features fire somewhere
    for f in live[:3]:
        assert features[f].density == pytest.approx(float((acts[:, :, f] > 0).double().mean()), abs=1e-9)
        assert features[f].max_act == pytest.approx(float(acts[:, :, f].max()), rel=1e-4, abs=1e-6)
        assert features[f].examples


def test_live_activations_and_steering_on_a_sparsify_sae(tmp_path, tiny_llama):
    """The inference service resolves the source from its folder, as it does for a SAELens one."""
    from featurepedia.inference import Limits, Sampling, generate
    from featurepedia.inference.operations import SourceCache, run_query
    from featurepedia.inference.queries import ActivationsQuery, SteeredFeature, SteerQuery

    folder = tmp_path / "layers.1"
    save_sparsify(folder, tiny_llama.d_model)
    sources = SourceCache("tiny-llama", tiny_llama, lambda model_id, source_id: folder)
    text = "The quick brown fox jumps over the lazy dog."
    source = sources.get("1-res-sae")
    want = source.encode(_hidden(tiny_llama))[0]
    index = int(want[1:].amax(0).argmax())
    (result,) = run_query(sources, ActivationsQuery("tiny-llama", "1-res-sae", [index], [text]), Limits())
    torch.testing.assert_close(torch.tensor(result.features[0].values[1:]), want[1:, index], atol=1e-5, rtol=1e-4)

    sampling = Sampling(n_tokens=8)
    steered = run_query(sources, SteerQuery("tiny-llama", "The quick", [SteeredFeature("1-res-sae", index, 40.0)],
                                            sampling=sampling), Limits())
    push = 40.0 * source.decoder_directions()[index]
    ids = tiny_llama.to_tokens("The quick")
    out = []
    for _ in range(8):  # greedy, no cache: the decoder row added at every position of the hook
        logits = tiny_llama.logits(torch.tensor([ids + out]), fwd_hooks=[(source.hook_name, lambda a: a + push)])
        out.append(int(logits[0, -1].argmax()))
        if out[-1] == tiny_llama.tokenizer.eos_token_id:
            break
    assert steered.steered.token_ids == out
    assert steered.default.token_ids == generate(tiny_llama, "The quick", sampling).token_ids
    assert steered.steered.token_ids != steered.default.token_ids
