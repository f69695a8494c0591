"""A tiny TopK SAE in SAELens format for the tiny Llama, with the eval.json and training.json the shipped
SAE has, and builds of it (and of the model's neurons) into the catalog."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import save_file

from featurepedia.corpus import ContextSpec
from featurepedia.dashboards import RunConfig, run_dashboards
from featurepedia.lm import LanguageModel
from featurepedia.sources import source_for
from featurepedia.web.catalog.sink import DatabaseSink

D_SAE, K = 96, 4
HOOK = "blocks.1.hook_resid_post"
EVALUATION = {"fve": 0.8123, "l0": 4.0, "dead_frac": 0.0521, "dense_frac": 0.0104, "ce_loss_recovered": 0.9312,
              "kl_div": 0.0456, "mse": 0.01, "n_tokens": 5000, "ce_tokens": 800}
TRAINING = {"model_id": "tiny-llama", "hook": HOOK, "d_sae": D_SAE, "k": K, "tokens": 1_000_000,
            "architecture": "topk", "corpus": "default", "ctx_len": 128}


def write_tiny_sae(folder: Path, d_in: int, evaluation: dict[str, Any] | None = EVALUATION,
                   training: dict[str, Any] | None = TRAINING) -> Path:
    """A random TopK SAE (96 features, k = 4) on ``blocks.1.hook_resid_post``, as SAELens saves one."""
    folder.mkdir(parents=True, exist_ok=True)
    cfg = {"architecture": "topk", "d_in": d_in, "d_sae": D_SAE, "k": K, "dtype": "float32", "device": "cpu",
           "apply_b_dec_to_input": True, "normalize_activations": "none",
           "metadata": {"hook_name": HOOK, "model_name": "tiny-llama"}}
    (folder / "cfg.json").write_text(json.dumps(cfg))
    gen = torch.Generator().manual_seed(7)
    weights = {"W_enc": torch.randn(d_in, D_SAE, generator=gen) * 0.3, "b_enc": torch.zeros(D_SAE),
               "W_dec": torch.randn(D_SAE, d_in, generator=gen) * 0.3, "b_dec": torch.zeros(d_in)}
    save_file(weights, str(folder / "sae_weights.safetensors"))
    if evaluation is not None:
        (folder / "eval.json").write_text(json.dumps(evaluation))
    if training is not None:
        (folder / "training.json").write_text(json.dumps(training))
    return folder


def corpus_file(folder: Path) -> str:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "corpus.txt"
    paragraphs = [f"Paragraph {i}: the cat sat on the mat near Paris, {i * 7} times." for i in range(60)]
    path.write_text("\n\n".join(paragraphs))
    return str(path)


def build(model: LanguageModel, source_id: str, folder: Path, sae: Path | None = None) -> None:
    """Build ``source_id`` of the tiny model into the catalog (an SAE from ``sae``) on a small corpus."""
    config = RunConfig(model=model.model_id, source=source_id, sae_path=str(sae) if sae else None,
                       n_tokens=32 * 40, batch_size=16, top_k=4, quantile_bins=3, per_bin=2, n_negative=2,
                       contexts=ContextSpec(corpus=corpus_file(folder), ctx_len=32))
    run_dashboards(model, source_for(model, source_id, sae_path=sae), config, DatabaseSink(),
                   folder / f"run-{source_id}", progress=False)
