"""The SAE the package ships for the default model: it opens, encodes sparsely and reconstructs."""

from __future__ import annotations

import json

import pytest
import torch

from featurepedia.sources.sae import open_sae, shipped_sae
from featurepedia.training.activations import record

FIGURES = ("fve", "l0", "dead_frac", "dense_frac", "ce_loss_recovered", "kl_div")


@pytest.mark.slow
def test_the_shipped_sae_opens_encodes_k_latents_and_reconstructs(real_model):
    folder = shipped_sae("smollm2-135m", "6-res-sae")
    assert folder is not None, "the package ships smollm2-135m/6-res-sae"
    sae = open_sae(real_model, folder, source_id="6-res-sae")
    assert (sae.hook_name, sae.architecture, sae.n_features, sae.k) == ("blocks.6.hook_resid_post", "topk", 4608, 32)
    evaluation = json.loads((folder / "eval.json").read_text())
    assert all(isinstance(evaluation[key], float | int) for key in FIGURES)
    training = json.loads((folder / "training.json").read_text())
    assert (training["d_sae"], training["k"], training["hook"]) == (4608, 32, "blocks.6.hook_resid_post")
    text = "The quick brown fox jumps over the lazy dog. In 1969, Apollo 11 landed on the Moon."
    ids = torch.tensor([real_model.to_tokens(text)])
    x = record(real_model, sae.hook_name, ids, skip_bos=True)
    acts = sae.encode(x)
    active = (acts > 0).sum(-1)
    assert int(active.max()) <= 32 and float(active.float().mean()) > 24
    err = (sae.reconstruct(x) - x).pow(2).sum()
    total = (x - x.mean(0)).pow(2).sum()
    assert float(1 - err / total) > 0.6  # a sanity floor on two sentences; eval.json holds the real figure
