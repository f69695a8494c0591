"""SAE evaluation on known constructions: an exact SAE recovers everything, a zero SAE nothing."""

from __future__ import annotations

import json

import pytest
import torch
from safetensors.torch import save_file

from featurepedia.training.evaluate import SAEEvaluationError, evaluate_sae

HOOK = "blocks.1.hook_resid_post"


def write(folder, w_enc, w_dec, b_enc=None, b_dec=None, **cfg):
    folder.mkdir(parents=True)
    d_in, d_sae = w_enc.shape
    save_file({"W_enc": w_enc.contiguous(), "W_dec": w_dec.contiguous(),
               "b_enc": torch.zeros(d_sae) if b_enc is None else b_enc,
               "b_dec": torch.zeros(d_in) if b_dec is None else b_dec}, str(folder / "sae_weights.safetensors"))
    (folder / "cfg.json").write_text(json.dumps({
        "d_in": d_in, "d_sae": d_sae, "architecture": "standard", "apply_b_dec_to_input": False,
        "metadata": {"hook_name": HOOK, "model_name": "tiny-gpt2", "context_size": 32}, **cfg}))
    return folder


def test_an_exact_sae_explains_all_variance_and_recovers_all_loss(tiny_gpt2, tmp_path):
    eye = torch.eye(64)
    # relu(x) - relu(-x) = x: 128 latents that reconstruct every activation exactly.
    folder = write(tmp_path / "exact", torch.cat([eye, -eye], dim=1), torch.cat([eye, -eye], dim=0))
    result = evaluate_sae(folder, model=tiny_gpt2, n_tokens=3000, ce_tokens=600)
    assert result["fve"] == pytest.approx(1.0, abs=1e-6)
    assert result["ce_loss_recovered"] == pytest.approx(1.0, abs=1e-4)
    assert result["kl_div"] == pytest.approx(0.0, abs=1e-6)
    assert result["l0"] == pytest.approx(64.0, abs=1.0)  # one of each +/- pair, save exact zeros
    assert result["dead_frac"] == 0.0
    assert result["dense_frac"] == 1.0  # each latent fires on about half the tokens
    assert result["n_tokens"] == 3000
    assert result["ce_tokens"] >= 600
    assert result["ce_zero"] > result["ce_clean"]


def test_a_zero_sae_recovers_nothing_and_is_all_dead(tiny_gpt2, tmp_path):
    folder = write(tmp_path / "zero", torch.zeros(64, 32), torch.zeros(32, 64))
    result = evaluate_sae(folder, model=tiny_gpt2, n_tokens=2000, ce_tokens=300)
    assert result["ce_loss_recovered"] == pytest.approx(0.0, abs=1e-6)
    assert result["ce_sae"] == pytest.approx(result["ce_zero"], abs=1e-6)
    assert result["dead_frac"] == 1.0 and result["l0"] == 0.0 and result["dense_frac"] == 0.0
    assert result["fve"] < 0  # predicting 0 is worse than predicting the mean


def test_a_mean_only_sae_explains_no_variance(tiny_gpt2, tmp_path):
    from featurepedia.corpus import ContextSpec, context_batches, iter_contexts
    from featurepedia.training.activations import record

    batches = context_batches(iter_contexts(tiny_gpt2.tokenizer, ContextSpec(ctx_len=32), 70, part="heldout"), 16)
    mean = torch.cat([record(tiny_gpt2, HOOK, b, skip_bos=True) for b in batches])[:2000].mean(0)
    folder = write(tmp_path / "mean", torch.zeros(64, 32), torch.zeros(32, 64), b_dec=mean)
    result = evaluate_sae(folder, model=tiny_gpt2, n_tokens=2000, ce_tokens=0)
    assert result["fve"] == pytest.approx(0.0, abs=1e-4)
    assert "ce_loss_recovered" not in result


def test_bad_requests_are_refused(tiny_gpt2, tmp_path):
    folder = write(tmp_path / "zero", torch.zeros(64, 32), torch.zeros(32, 64))
    with pytest.raises(SAEEvaluationError, match="must be positive"):
        evaluate_sae(folder, model=tiny_gpt2, n_tokens=0)
    from featurepedia.sources.base import SourceError

    with pytest.raises(SourceError, match="no SAE at"):
        evaluate_sae(tmp_path / "missing", model=tiny_gpt2)
