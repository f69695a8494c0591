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


def _save_with_saelens(folder, d_in, architecture, hook_name):
    from sae_lens import SAE, JumpReLUSAEConfig, StandardSAEConfig, TopKSAEConfig

    config_class = {"standard": StandardSAEConfig, "topk": TopKSAEConfig, "jumprelu": JumpReLUSAEConfig}
    extra = {"k": 8} if architecture == "topk" else {}
    cfg = config_class[architecture](d_in=d_in, d_sae=D_SAE, **extra)
    sae = SAE.from_dict(cfg.to_dict())
    gen = torch.Generator().manual_seed(3)
    with torch.no_grad():
        for _name, param in sae.named_parameters():
            param.copy_(torch.randn(param.shape, generator=gen) * 0.3)
        if architecture == "jumprelu":
            sae.threshold.copy_(torch.rand(D_SAE, generator=gen) * 0.2)
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
