"""Evaluate an SAE on held-out tokens: explained variance, L0, dead and dense latents, CE loss recovered, KL.

The tokens come from the corpus's ``heldout`` part (see :func:`featurepedia.corpus.contexts.part_of`), which
training never reads. The SAE is read by the same code the dashboards use (:func:`open_sae`), so a figure
here is a figure of what the site shows.

- ``fve``: 1 - sum ||x - x_hat||^2 / sum ||x - mean(x)||^2 over all evaluation tokens.
- ``l0``: mean number of active latents per token.
- ``dead_frac``: latents never active over the evaluation tokens; ``dense_frac``: active on more than 10%.
- ``ce_loss_recovered``: (CE_zero - CE_sae) / (CE_zero - CE_clean), where CE_sae splices the reconstruction
  in at the hook point and CE_zero puts zeros there; ``kl_div``: mean KL(clean || spliced) per token.

As everywhere in Featurepedia, the BOS position is left alone: it is neither measured nor spliced, and the
prediction made at it (which the splice cannot change) is not counted.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor

from featurepedia.corpus import ContextSpec, context_batches, iter_contexts
from featurepedia.corpus.contexts import PARTS
from featurepedia.errors import FeaturepediaError
from featurepedia.lm.model import LanguageModel
from featurepedia.sources.sae import SAESource, open_sae
from featurepedia.training.activations import record

DENSE_THRESHOLD = 0.1


class SAEEvaluationError(FeaturepediaError, ValueError):
    """An SAE cannot be evaluated as asked."""


def _cfg(path: Path) -> dict[str, Any]:
    from featurepedia.sources.sae.base import read_cfg

    return read_cfg(path)


def evaluate_sae(path: Path, model_id: str | None = None, hook: str | None = None, n_tokens: int = 500_000,
                 ce_tokens: int = 20_000, corpus: str = "default", ctx_len: int | None = None,
                 batch_size: int = 16, say: Callable[[str], None] | None = None,
                 model: LanguageModel | None = None, part: str = "heldout") -> dict[str, Any]:
    """The figures of the SAE in ``path`` as a dict (see the module docstring for their definitions).

    ``part`` is the corpus part read: ``heldout`` (the default, never trained on) or ``train``, to measure how
    much better the SAE does on text it has seen (its generalisation gap).
    """
    from featurepedia.lm import get_model
    from featurepedia.settings import get_settings

    if n_tokens < 1 or ce_tokens < 0:
        raise SAEEvaluationError(f"--tokens must be positive and --ce-tokens not negative; got {n_tokens} and "
                                 f"{ce_tokens}")
    cfg = _cfg(path)
    meta = cfg.get("metadata") or {}
    if model is None:
        model = get_model(model_id or meta.get("model_name") or get_settings().default_model)
    sae = open_sae(model, path, hook_name=hook)
    ctx = int(ctx_len or meta.get("context_size") or 128)
    ctx = min(ctx, 1024)
    spec = ContextSpec(corpus=corpus, ctx_len=ctx, seed=0)
    tell = say or (lambda _text: None)
    if part not in PARTS:
        raise SAEEvaluationError(f"unknown corpus part {part!r}; use one of {', '.join(PARTS)}")
    tell(f"evaluating {path} ({sae.architecture}, {sae.n_features} latents at {sae.hook_name} of "
         f"{model.model_id}) on {part} tokens of corpus {corpus!r}")
    recon = reconstruction_figures(model, sae, spec, n_tokens, batch_size, tell, part)
    loss = loss_figures(model, sae, spec, ce_tokens, max(1, batch_size // 2), tell, part) if ce_tokens else {}
    result = {**recon, **loss, "model_id": model.model_id, "hook": sae.hook_name, "d_sae": sae.n_features,
              "architecture": sae.architecture, "corpus": corpus, "part": part, "ctx_len": ctx}
    return {k: (round(v, 6) if isinstance(v, float) else v) for k, v in result.items()}


@torch.inference_mode()
def reconstruction_figures(model: LanguageModel, sae: SAESource, spec: ContextSpec, n_tokens: int,
                           batch_size: int, tell: Callable[[str], None], part: str = "heldout") -> dict[str, Any]:
    """fve, L0, dead and dense fractions over up to ``n_tokens`` tokens of the corpus part."""
    per_ctx = spec.ctx_len - 1
    n_contexts = math.ceil(n_tokens / per_ctx)
    d = sae.d_in
    sse = torch.zeros((), dtype=torch.float64)
    sum_x = torch.zeros(d, dtype=torch.float64)
    sum_sq = torch.zeros((), dtype=torch.float64)
    fired = torch.zeros(sae.n_features, dtype=torch.float64)
    l0_total = 0.0
    seen = 0
    contexts = iter_contexts(model.tokenizer, spec, n_contexts=n_contexts, part=part)
    for batch in context_batches(contexts, batch_size):
        x = record(model, sae.hook_name, batch, skip_bos=True)
        if seen + x.shape[0] > n_tokens:
            x = x[:n_tokens - seen]
        x = x.to(sae.device)
        acts = sae.encode(x)
        out = sae.decode(acts)
        if sae.normalize == "constant_norm_rescale":
            out = out * (x.norm(dim=-1, keepdim=True) / math.sqrt(sae.d_in))
        x64 = x.double()
        sse += (x64 - out.double()).pow(2).sum()
        sum_x += x64.sum(0)
        sum_sq += x64.pow(2).sum()
        active = acts > 0
        fired += active.sum(0).double()
        l0_total += float(active.sum())
        seen += x.shape[0]
        if seen >= n_tokens:
            break
    if seen == 0:
        raise SAEEvaluationError(f"corpus {spec.corpus!r} has no held-out contexts of {spec.ctx_len} tokens")
    if seen < n_tokens:
        tell(f"the {part} part holds {seen:,} tokens, fewer than the {n_tokens:,} asked for; all were used")
    sst = sum_sq - sum_x.pow(2).sum() / seen
    freq = fired / seen
    return {"fve": float(1.0 - sse / sst), "l0": l0_total / seen, "dead_frac": float((fired == 0).double().mean()),
            "dense_frac": float((freq > DENSE_THRESHOLD).double().mean()), "mse": float(sse / seen),
            "n_tokens": seen}


@torch.inference_mode()
def loss_figures(model: LanguageModel, sae: SAESource, spec: ContextSpec, ce_tokens: int, batch_size: int,
                 tell: Callable[[str], None], part: str = "heldout") -> dict[str, Any]:
    """Clean, spliced and zero-ablated next-token CE and KL(clean || spliced) over about ``ce_tokens``."""
    counted = spec.ctx_len - 2  # predictions made after the BOS position and before the last token
    if counted < 1:
        raise SAEEvaluationError(f"CE and KL need contexts of at least 3 tokens; this SAE's are {spec.ctx_len}")
    n_contexts = math.ceil(ce_tokens / counted)

    def splice(act: Tensor) -> Tensor:
        out = act.clone()
        out[:, 1:] = sae.reconstruct(act[:, 1:].to(sae.device)).to(act.dtype)
        return out

    def zero(act: Tensor) -> Tensor:
        out = act.clone()
        out[:, 1:] = 0
        return out

    totals = {"clean": 0.0, "sae": 0.0, "zero": 0.0, "kl": 0.0}
    seen = 0
    contexts = iter_contexts(model.tokenizer, spec, n_contexts=n_contexts, part=part)
    for batch in context_batches(contexts, batch_size):
        ids = batch.to(model.device)
        targets = ids[:, 2:]
        clean = model.logits(ids)[:, 1:-1].float()
        spliced = model.logits(ids, fwd_hooks=[(sae.hook_name, splice)])[:, 1:-1].float()
        ablated = model.logits(ids, fwd_hooks=[(sae.hook_name, zero)])[:, 1:-1].float()
        for name, logits in (("clean", clean), ("sae", spliced), ("zero", ablated)):
            totals[name] += float(F.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1),
                                                  reduction="sum"))
        log_p = F.log_softmax(clean, dim=-1)
        log_q = F.log_softmax(spliced, dim=-1)
        totals["kl"] += float((log_p.exp() * (log_p - log_q)).sum())
        seen += targets.numel()
    if seen == 0:
        raise SAEEvaluationError(f"corpus {spec.corpus!r} has no held-out contexts for CE and KL")
    ce = {name: totals[name] / seen for name in ("clean", "sae", "zero")}
    gap = ce["zero"] - ce["clean"]
    recovered = (ce["zero"] - ce["sae"]) / gap if abs(gap) > 1e-12 else float("nan")
    tell(f"CE clean {ce['clean']:.4f}, with the SAE {ce['sae']:.4f}, zero-ablated {ce['zero']:.4f} "
         f"over {seen:,} predictions")
    return {"ce_loss_recovered": recovered, "kl_div": totals["kl"] / seen, "ce_clean": ce["clean"],
            "ce_sae": ce["sae"], "ce_zero": ce["zero"], "ce_tokens": seen}


def write_evaluation(result: dict[str, Any], path: Path) -> None:
    """The figures as JSON beside the SAE (eval.json), as shipped with the default SAE."""
    path.write_text(json.dumps(result, indent=1, sort_keys=True) + "\n")
