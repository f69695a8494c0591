"""Where the parts that hook points need live in each family of Hugging Face causal LMs.

One small adapter per family; a new family is one more entry in ``_FAMILIES``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn


@dataclass(frozen=True)
class Family:
    """Accessors for one family of models (all take the *CausalLM module)."""

    name: str
    # Module attributes are dynamic (torch types them as Tensor | Module), hence Any.
    blocks: Callable[[Any], nn.ModuleList]
    mlp_out: Callable[[Any], nn.Module]  # block -> MLP output projection (its input = neurons)
    mlp_out_weight: Callable[[Any], torch.Tensor]  # block -> W_out as [d_mlp, d_model]
    final_norm: Callable[[Any], nn.Module]
    matches: Callable[[Any], bool]


def _has(model: Any, path: str) -> bool:
    obj = model
    for part in path.split("."):
        if not hasattr(obj, part):
            return False
        obj = getattr(obj, part)
    return True


_FAMILIES = [
    # Llama, Mistral, Qwen2, Gemma, SmolLM2, ...: model.model.layers[i].mlp.down_proj (nn.Linear [out, in]).
    Family(
        name="llama",
        blocks=lambda m: m.model.layers,
        mlp_out=lambda b: b.mlp.down_proj,
        mlp_out_weight=lambda b: b.mlp.down_proj.weight.T,
        final_norm=lambda m: m.model.norm,
        matches=lambda m: _has(m, "model.layers") and _has(m.model.layers[0], "mlp.down_proj"),
    ),
    # GPT-2: transformer.h[i].mlp.c_proj is a Conv1D whose weight is already [in, out].
    Family(
        name="gpt2",
        blocks=lambda m: m.transformer.h,
        mlp_out=lambda b: b.mlp.c_proj,
        mlp_out_weight=lambda b: b.mlp.c_proj.weight,
        final_norm=lambda m: m.transformer.ln_f,
        matches=lambda m: _has(m, "transformer.h") and _has(m.transformer.h[0], "mlp.c_proj"),
    ),
    # GPT-NeoX / Pythia: gpt_neox.layers[i].mlp.dense_4h_to_h.
    Family(
        name="gpt_neox",
        blocks=lambda m: m.gpt_neox.layers,
        mlp_out=lambda b: b.mlp.dense_4h_to_h,
        mlp_out_weight=lambda b: b.mlp.dense_4h_to_h.weight.T,
        final_norm=lambda m: m.gpt_neox.final_layer_norm,
        matches=lambda m: _has(m, "gpt_neox.layers"),
    ),
]


def detect_family(model: nn.Module) -> Family:
    """The adapter for ``model``; raise ValueError naming the supported families."""
    for family in _FAMILIES:
        if family.matches(model):
            return family
    names = ", ".join(f.name for f in _FAMILIES)
    raise ValueError(
        f"{type(model).__name__} is not a supported architecture; supported families: {names}"
    )
