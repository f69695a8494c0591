"""SAEs in SAELens format: our encoder equals SAELens's own, and broken SAEs give clear errors."""

from __future__ import annotations

import json

import pytest
import torch
from safetensors.torch import save_file

from featurepedia.sources import SourceError, build_source, source_for, source_kinds
from featurepedia.sources.base import register_source_kind
from featurepedia.sources.sae import SAESource, StandardSAE, register_sae_architecture, registry

D_SAE = 96


def _save_with_saelens(folder, d_in, architecture, hook_name, rescale_acts_by_decoder_norm=False):
    """A random SAE saved by SAELens's own save_model (with rescaling, its decoder rows have norms 0.1-10)."""
    from sae_lens import SAE, JumpReLUSAEConfig, StandardSAEConfig, TopKSAEConfig

    config_class = {"standard": StandardSAEConfig, "topk": TopKSAEConfig, "jumprelu": JumpReLUSAEConfig}
    extra = {"k": 8} if architecture == "topk" else {}
    if rescale_acts_by_decoder_norm:
        extra["rescale_acts_by_decoder_norm"] = True
    cfg = config_class[architecture](d_in=d_in, d_sae=D_SAE, **extra)
    sae = SAE.from_dict(cfg.to_dict())
    gen = torch.Generator().manual_seed(3)
    with torch.no_grad():
        for _name, param in sae.named_parameters():
            param.copy_(torch.randn(param.shape, generator=gen) * 0.3)
        if architecture == "jumprelu":
            sae.threshold.copy_(torch.rand(D_SAE, generator=gen) * 0.2)
        if rescale_acts_by_decoder_norm:
            sae.W_dec.mul_(10 ** (torch.rand(D_SAE, 1, generator=gen) * 2 - 1))
    for _name, param in sae.named_parameters():
        param.data = param.data.contiguous()
    sae.save_model(str(folder))
    cfg_path = folder / "cfg.json"
    data = json.loads(cfg_path.read_text())
    data.setdefault("metadata", {})["hook_name"] = hook_name
    cfg_path.write_text(json.dumps(data))
    return sae


@pytest.mark.parametrize("architecture", ["standard", "topk", "jumprelu"])
def test_encode_matches_saelens(tmp_path, tiny_llama, architecture):
    hook = "blocks.1.hook_resid_post"
    sae = _save_with_saelens(tmp_path, tiny_llama.d_model, architecture, hook)
    source = source_for(tiny_llama, "1-res-sae", sae_path=tmp_path)
    assert source.hook_name == hook and source.n_features == D_SAE and source.nonnegative
    hidden = tiny_llama.run_to(hook, torch.tensor([tiny_llama.to_tokens("The quick brown fox.")]))
    with torch.no_grad():
        want = sae.encode(hidden)
    torch.testing.assert_close(source.encode(hidden), want, atol=1e-5, rtol=1e-4)
    assert (source.encode(hidden) > 0).any()
    torch.testing.assert_close(source.decoder_directions(), sae.W_dec.detach())


@pytest.mark.parametrize("architecture", ["standard", "jumprelu", "topk", "topk-rescaled"])
def test_saelens_reading_the_same_folder_agrees(tmp_path, tiny_llama, architecture):
    """SAE.load_from_disk of the folder encodes and reconstructs as we do. With rescale_acts_by_decoder_norm
    and unnormalised decoder rows, SAELens ranks pre-activations times the row norms: we fold the norms."""
    from sae_lens import SAE

    hook = "blocks.1.hook_resid_post"
    rescaled = architecture == "topk-rescaled"
    _save_with_saelens(tmp_path, tiny_llama.d_model, architecture.removesuffix("-rescaled"), hook,
                       rescale_acts_by_decoder_norm=rescaled)
    theirs = SAE.load_from_disk(str(tmp_path))
    ours = source_for(tiny_llama, "1-res-sae", sae_path=tmp_path)
    assert ours.architecture == theirs.cfg.architecture() == architecture.removesuffix("-rescaled")
    hidden = tiny_llama.run_to(hook, torch.tensor([tiny_llama.to_tokens("The quick brown fox jumps over it.")]))
    with torch.no_grad():
        want = theirs.encode(hidden)
        want_recon = theirs.decode(want)
    assert (want > 0).any()
    torch.testing.assert_close(ours.encode(hidden), want, atol=1e-5, rtol=1e-4)
    torch.testing.assert_close(ours.reconstruct(hidden), want_recon, atol=1e-5, rtol=1e-4)
    norms = theirs.W_dec.detach().norm(dim=-1, keepdim=True)
    if rescaled:
        assert theirs.cfg.rescale_acts_by_decoder_norm and float(norms.max() / norms.min()) > 10
        # The flag matters here: ranking the raw pre-activations would pick other features.
        pre = (hidden - theirs.b_dec) @ theirs.W_enc + theirs.b_enc
        assert not torch.equal(pre.detach().topk(8).indices.sort().values, want.topk(8).indices.sort().values)
        torch.testing.assert_close(ours.decoder_directions(), theirs.W_dec.detach() / norms)
    else:
        torch.testing.assert_close(ours.decoder_directions(), theirs.W_dec.detach())


def _write_sae(folder, d_in, d_sae, shapes=None, cfg_extra=None):
    folder.mkdir(parents=True, exist_ok=True)
    cfg = {"d_in": d_in, "d_sae": d_sae, "architecture": "standard",
           "metadata": {"hook_name": "blocks.1.hook_resid_post"}, **(cfg_extra or {})}
    (folder / "cfg.json").write_text(json.dumps(cfg))
    shapes = shapes or {"W_enc": (d_in, d_sae), "b_enc": (d_sae,), "W_dec": (d_sae, d_in), "b_dec": (d_in,)}
    save_file({k: torch.zeros(s) for k, s in shapes.items()}, str(folder / "sae_weights.safetensors"))


def test_mismatched_width_names_both_sizes(tmp_path, tiny_llama):
    _write_sae(tmp_path, d_in=100, d_sae=32)
    with pytest.raises(SourceError, match=r"d_in=100.*width 64"):
        source_for(tiny_llama, "1-res-sae", sae_path=tmp_path)


def test_wrong_tensor_shape_names_expected_and_found(tmp_path, tiny_llama):
    d = tiny_llama.d_model
    _write_sae(tmp_path, d_in=d, d_sae=32, shapes={"W_enc": (d, 31), "b_enc": (32,), "W_dec": (32, d),
                                                    "b_dec": (d,)})
    with pytest.raises(SourceError, match=r"W_enc has shape \(64, 31\), expected \(64, 32\)"):
        source_for(tiny_llama, "1-res-sae", sae_path=tmp_path)


def test_corrupt_weights_file(tmp_path, tiny_llama):
    _write_sae(tmp_path, d_in=tiny_llama.d_model, d_sae=32)
    (tmp_path / "sae_weights.safetensors").write_bytes(b"\x00garbage" * 10)
    with pytest.raises(SourceError, match="corrupt"):
        source_for(tiny_llama, "1-res-sae", sae_path=tmp_path)


def test_truncated_weights_file(tmp_path, tiny_llama):
    _write_sae(tmp_path, d_in=tiny_llama.d_model, d_sae=32)
    data = (tmp_path / "sae_weights.safetensors").read_bytes()
    (tmp_path / "sae_weights.safetensors").write_bytes(data[: len(data) - 100])
    with pytest.raises(SourceError, match=r"sae_weights.safetensors is corrupt .*incomplete metadata"):
        source_for(tiny_llama, "1-res-sae", sae_path=tmp_path)


def test_nan_weights(tmp_path, tiny_llama):
    d = tiny_llama.d_model
    b_enc = torch.zeros(32)
    b_enc[[2, 7]] = torch.tensor([float("nan"), float("inf")])
    save = {"W_enc": torch.zeros(d, 32), "b_enc": b_enc, "W_dec": torch.zeros(32, d), "b_dec": torch.zeros(d)}
    _write_sae(tmp_path, d_in=d, d_sae=32)
    save_file(save, str(tmp_path / "sae_weights.safetensors"))
    with pytest.raises(SourceError, match=r"b_enc holds 2 NaN or infinite value\(s\) of 32; the file is corrupt"):
        source_for(tiny_llama, "1-res-sae", sae_path=tmp_path)


def test_width_mismatch_names_the_model_it_was_trained_on(tmp_path, tiny_llama):
    _write_sae(tmp_path, d_in=768, d_sae=32, cfg_extra={"metadata": {"hook_name": "blocks.1.hook_resid_post",
                                                                      "model_name": "gpt2-small"}})
    with pytest.raises(SourceError, match=r"d_in=768 but blocks.1.hook_resid_post of tiny-llama has width 64: it "
                                          r"was trained on another model or hook point \(gpt2-small\)"):
        source_for(tiny_llama, "1-res-sae", sae_path=tmp_path)


@pytest.mark.parametrize(("cfg_extra", "message"), [
    ({"metadata": {"hook_name": "blocks.5.hook_resid_post"}},
     r"cfg.json: the SAE's hook point does not fit tiny-llama: layer 5 is out of range for tiny-llama, which has 2 "
     r"layers \(0..1\)"),
    ({"metadata": {"hook_name": "blocks.1.attn.hook_z"}}, r"does not fit tiny-llama: unknown hook point "
                                                           r"'blocks.1.attn.hook_z'"),
    ({"metadata": {"hook_name": "blocks.0.hook_resid_pre"}}, "is the embedding output"),
    ({"reshape_activations": "hook_z"}, "reshape_activations 'hook_z' .* is not supported"),
    ({"normalize_activations": "layer_norm"}, "normalize_activations 'layer_norm' is not supported; supported: "
                                              "none, constant_norm_rescale"),
    ({"d_sae": 0}, "needs a positive integer 'd_sae'; found 0"),
    ({"architecture": "jumprelu_transcoder"}, r"a transcoder \(architecture 'jumprelu_transcoder'\) .* does not "
                                              "read yet"),
])
def test_hook_points_and_settings_we_cannot_read(tmp_path, tiny_llama, cfg_extra, message):
    _write_sae(tmp_path, d_in=tiny_llama.d_model, d_sae=32, cfg_extra=cfg_extra)
    with pytest.raises(SourceError, match=message):
        source_for(tiny_llama, "1-res-sae", sae_path=tmp_path)


def test_resid_pre_is_read_at_the_previous_blocks_output(tmp_path, tiny_llama):
    """SAELens's blocks.L.hook_resid_pre is blocks.{L-1}.hook_resid_post; Neuronpedia numbers it L."""
    _write_sae(tmp_path, d_in=tiny_llama.d_model, d_sae=32, cfg_extra={"metadata": {"hook_name":
                                                                                     "blocks.1.hook_resid_pre"}})
    for source_id in ("1-res-jb", "0-res-jb"):
        source = source_for(tiny_llama, source_id, sae_path=tmp_path)
        assert source.hook_name == "blocks.0.hook_resid_post" and source.source_id == source_id
    with pytest.raises(SourceError, match=r"does not match the SAE's hook point blocks.1.hook_resid_pre \(layer 0\)"):
        source_for(tiny_llama, "2-res-jb", sae_path=tmp_path)


def test_a_file_of_the_folder_names_the_folder(tmp_path, tiny_llama):
    _write_sae(tmp_path, d_in=tiny_llama.d_model, d_sae=32)
    assert source_for(tiny_llama, "1-res-sae", sae_path=tmp_path / "sae_weights.safetensors").path == tmp_path


def test_missing_and_invalid_files(tmp_path, tiny_llama):
    with pytest.raises(SourceError, match="cfg.json and sae_weights.safetensors"):
        source_for(tiny_llama, "1-res-sae", sae_path=tmp_path / "nowhere")
    tmp_path.joinpath("cfg.json").write_text("{not json")
    with pytest.raises(SourceError, match="not valid JSON"):
        source_for(tiny_llama, "1-res-sae", sae_path=tmp_path)


def test_unsupported_architecture_and_bad_ids(tmp_path, tiny_llama):
    _write_sae(tmp_path, d_in=tiny_llama.d_model, d_sae=32, cfg_extra={"architecture": "gated"})
    with pytest.raises(SourceError, match="'gated' is not supported; registered architectures: standard, topk, jumprelu"):
        source_for(tiny_llama, "1-res-sae", sae_path=tmp_path)
    _write_sae(tmp_path, d_in=tiny_llama.d_model, d_sae=32, cfg_extra={"architecture": "topk", "k": 33})
    with pytest.raises(SourceError, match=r"topk SAE needs 0 < k <= d_sae \(32\); found k=33"):
        source_for(tiny_llama, "1-res-sae", sae_path=tmp_path)
    with pytest.raises(SourceError, match="<layer>-<set>"):
        source_for(tiny_llama, "mlp6")
    with pytest.raises(SourceError, match="--sae PATH"):
        source_for(tiny_llama, "1-res-sae")


def test_a_new_architecture_is_one_class_and_one_registration(tmp_path, tiny_llama, monkeypatch):
    monkeypatch.setattr(registry, "_ARCHITECTURES", dict(registry._ARCHITECTURES))

    class ScaledSAE(SAESource):  # a ReLU scaled by a per-feature tensor the folder must hold
        extra_tensors = ("scale",)

        def activate(self, pre):
            return torch.relu(pre) * self.weights["scale"]

    register_sae_architecture("scaled", ScaledSAE)
    d, d_sae = tiny_llama.d_model, 32
    _write_sae(tmp_path, d_in=d, d_sae=d_sae, cfg_extra={"architecture": "scaled"})
    with pytest.raises(SourceError, match="no tensor 'scale'"):
        source_for(tiny_llama, "1-res-sae", sae_path=tmp_path)
    gen = torch.Generator().manual_seed(0)
    weights = {"W_enc": torch.randn(d, d_sae, generator=gen), "b_enc": torch.randn(d_sae, generator=gen),
               "W_dec": torch.randn(d_sae, d, generator=gen), "b_dec": torch.randn(d, generator=gen),
               "scale": torch.rand(d_sae, generator=gen)}
    save_file(weights, str(tmp_path / "sae_weights.safetensors"))
    source = source_for(tiny_llama, "1-res-sae", sae_path=tmp_path)
    assert isinstance(source, ScaledSAE) and source.kind == "sae" and source.config()["architecture"] == "scaled"
    hidden = torch.randn(2, 3, d)
    want = torch.relu((hidden - weights["b_dec"]) @ weights["W_enc"] + weights["b_enc"]) * weights["scale"]
    torch.testing.assert_close(source.encode(hidden), want)
    assert source.device == torch.device("cpu") and source.dtype == torch.float32


def test_registering_an_architecture_twice_raises(monkeypatch):
    monkeypatch.setattr(registry, "_ARCHITECTURES", dict(registry._ARCHITECTURES))
    with pytest.raises(ValueError, match="'topk' is already registered"):
        register_sae_architecture("topk", StandardSAE)
    assert registry.sae_architectures() == ["standard", "topk", "jumprelu"]


def test_source_id_must_match_the_sae_layer(tmp_path, tiny_llama):
    _write_sae(tmp_path, d_in=tiny_llama.d_model, d_sae=32)
    with pytest.raises(SourceError, match="layer 1"):
        source_for(tiny_llama, "0-res-sae", sae_path=tmp_path)


def test_registry():
    assert {"neurons", "sae"} <= set(source_kinds())
    with pytest.raises(ValueError, match="already registered"):
        register_source_kind("sae", lambda **kw: None)
    with pytest.raises(SourceError, match="known kinds"):
        build_source("transcoder")


def test_neurons_are_the_identity_basis(tiny_gpt2):
    source = source_for(tiny_gpt2, "0-mlp")
    assert source.n_features == tiny_gpt2.d_mlp == 256
    hidden = torch.randn(2, 3, 256)
    assert torch.equal(source.encode(hidden), hidden)
    assert not source.nonnegative


def test_eval_and_training_json_go_into_the_config(tmp_path, tiny_llama):
    _write_sae(tmp_path, d_in=tiny_llama.d_model, d_sae=32)
    assert "evaluation" not in source_for(tiny_llama, "1-res-sae", sae_path=tmp_path).config()
    (tmp_path / "eval.json").write_text('{"fve": 0.75, "l0": 32.0, "ce_loss_recovered": NaN, "n_tokens": 1000}')
    (tmp_path / "training.json").write_text('{"tokens": 5000000, "k": 32}')
    config = source_for(tiny_llama, "1-res-sae", sae_path=tmp_path).config()
    # A NaN figure becomes null: every database's JSON column (PostgreSQL's jsonb too) can store it.
    assert config["evaluation"] == {"fve": 0.75, "l0": 32.0, "ce_loss_recovered": None, "n_tokens": 1000}
    assert config["training"] == {"tokens": 5000000, "k": 32}
    json.dumps(config, allow_nan=False)


@pytest.mark.parametrize(("content", "message"), [("{fve", "eval.json is not valid JSON"),
                                                  ("[1, 2]", "eval.json must hold a JSON object, found list")])
def test_a_broken_eval_json_is_a_clear_error(tmp_path, tiny_llama, content, message):
    _write_sae(tmp_path, d_in=tiny_llama.d_model, d_sae=32)
    (tmp_path / "eval.json").write_text(content)
    with pytest.raises(SourceError, match=message):
        source_for(tiny_llama, "1-res-sae", sae_path=tmp_path)


@pytest.mark.parametrize(("rows", "k"), [(3, 4), (700, 8), (600, 32)])
def test_topk_in_one_pass_equals_topk_then_relu_with_ties_by_lower_index(rows, k):
    from featurepedia.sources.sae.topk import TopKSAE

    generator = torch.Generator().manual_seed(rows + k)
    width = 40
    product = torch.randn(rows, width, generator=generator).round(decimals=1)  # many exact ties
    product[0] = 0.5  # a whole row tied: the k lowest indices
    product[1, : width // 2] = -1.0  # fewer than k positive values: the rest are 0
    bias = torch.randn(width, generator=generator).round(decimals=1)
    bias[0] = float("-inf")  # never among the top while k < width
    sae = TopKSAE.__new__(TopKSAE)  # only activate / activate_biased are used
    sae.k = k
    got = sae.activate_biased(product.clone(), bias)
    pre = product + bias
    # The reference: the k largest by (value, then lower index), through a ReLU, zeros elsewhere.
    want = torch.zeros_like(pre)
    for r in range(rows):
        row = pre[r].tolist()
        order = sorted(range(width), key=lambda j: (-row[j], j))[:k]
        want[r, order] = torch.relu(pre[r, order])
    assert torch.equal(got, want)
    # Rows whose k-th and (k+1)-th values differ have one top k: torch.topk's, the same values.
    kth = pre.sort(dim=1, descending=True).values
    untied = (kth[:, k - 1] != kth[:, k]) & (kth[:, k - 1] > float("-inf"))
    assert untied.sum() > 0
    assert torch.equal(got[untied], sae.activate(pre)[untied])
    assert (got > 0).sum(dim=1).max() <= k
