"""Sparse autoencoders in SAELens's on-disk format: ``cfg.json`` + ``sae_weights.safetensors``.

Supported architectures: ``standard`` (ReLU), ``topk`` and ``jumprelu``; activation normalisation
``none`` and ``constant_norm_rescale``. Weights: W_enc [d_in, d_sae], b_enc [d_sae], W_dec [d_sae, d_in],
b_dec [d_in], and ``threshold`` [d_sae] for JumpReLU.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from featurepedia.lm.model import LanguageModel
from featurepedia.sources.base import Source, SourceError, register_source_kind

ARCHITECTURES = ("standard", "topk", "jumprelu")
NORMALISATIONS = ("none", "constant_norm_rescale")


class SAESource(Source):
    """Features of an SAE read from a SAELens folder."""

    kind = "sae"
    nonnegative = True

    def __init__(self, model: LanguageModel, path: str | Path, source_id: str | None = None,
                 hook_name: str | None = None, default_hook: str | None = None) -> None:
        folder = Path(path).expanduser()
        cfg = _read_cfg(folder)
        self.cfg = cfg
        self.path = folder
        self.architecture = cfg.get("architecture", "standard")
        if self.architecture not in ARCHITECTURES:
            raise SourceError(f"{folder}/cfg.json: architecture {self.architecture!r} is not supported; "
                              f"supported: {', '.join(ARCHITECTURES)}")
        self.normalize = cfg.get("normalize_activations", "none") or "none"
        if self.normalize not in NORMALISATIONS:
            raise SourceError(f"{folder}/cfg.json: normalize_activations {self.normalize!r} is not supported; "
                              f"supported: {', '.join(NORMALISATIONS)}")
        hook = (hook_name or (cfg.get("metadata") or {}).get("hook_name") or cfg.get("hook_name")
                or default_hook)
        if not hook:
            raise SourceError(f"{folder}/cfg.json names no hook point; pass one, e.g. "
                              "--hook blocks.6.hook_resid_post")
        width = model.hook_width(hook)
        d_in, d_sae = int(cfg["d_in"]), int(cfg["d_sae"])
        if d_in != width:
            raise SourceError(f"SAE at {folder} has d_in={d_in} but {hook} of {model.model_id} has width {width}")
        self.weights = _read_weights(folder, d_in, d_sae, self.architecture)
        self.apply_b_dec_to_input = bool(cfg.get("apply_b_dec_to_input", True))
        self.k = int(cfg.get("k", 0)) if self.architecture == "topk" else 0
        if self.architecture == "topk" and not 0 < self.k <= d_sae:
            raise SourceError(f"{folder}/cfg.json: topk SAE needs 0 < k <= d_sae ({d_sae}); found k={self.k}")
        layer = model.hook_point(hook).layer
        if source_id is not None and not source_id.startswith(f"{layer}-"):
            raise SourceError(f"source id {source_id!r} does not match the SAE's hook point {hook} "
                              f"(layer {layer}); use an id starting with '{layer}-'")
        site = "res" if model.hook_point(hook).site == "resid_post" else "mlp"
        super().__init__(source_id or f"{layer}-{site}-sae", hook, d_in, d_sae)

    def encode(self, hidden: Tensor) -> Tensor:
        w = self.weights
        x = hidden.float()
        if self.normalize == "constant_norm_rescale":
            x = x * (math.sqrt(self.d_in) / x.norm(dim=-1, keepdim=True).clamp_min(1e-8))
        if self.apply_b_dec_to_input:
            x = x - w["b_dec"]
        pre = x @ w["W_enc"] + w["b_enc"]  # [..., d_sae]
        if self.architecture == "jumprelu":
            return torch.relu(pre) * (pre > w["threshold"])
        if self.architecture == "topk":
            values, indices = pre.topk(self.k, dim=-1)
            return torch.zeros_like(pre).scatter(-1, indices, torch.relu(values))
        return torch.relu(pre)

    def decoder_directions(self) -> Tensor:
        return self.weights["W_dec"]

    def config(self) -> dict[str, Any]:
        return {**super().config(), "path": str(self.path), "architecture": self.architecture,
                "sae_cfg": self.cfg}


def _read_cfg(folder: Path) -> dict[str, Any]:
    cfg_path = folder / "cfg.json"
    if not cfg_path.is_file():
        raise SourceError(f"no SAE at {folder}: expected cfg.json and sae_weights.safetensors (SAELens format)")
    try:
        cfg = json.loads(cfg_path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise SourceError(f"{cfg_path} is not valid JSON: {err}") from None
    for key in ("d_in", "d_sae"):
        if not isinstance(cfg.get(key), int):
            raise SourceError(f"{cfg_path} needs an integer {key!r}; found {cfg.get(key)!r}")
    return cfg


def _read_weights(folder: Path, d_in: int, d_sae: int, architecture: str) -> dict[str, Tensor]:
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    path = folder / "sae_weights.safetensors"
    if not path.is_file():
        raise SourceError(f"no {path.name} in {folder} (SAELens format needs it beside cfg.json)")
    try:
        raw = load_file(str(path))
    except (SafetensorError, OSError, ValueError) as err:
        raise SourceError(f"{path} is corrupt or not a safetensors file: {err}") from None
    expected = {"W_enc": (d_in, d_sae), "b_enc": (d_sae,), "W_dec": (d_sae, d_in), "b_dec": (d_in,)}
    if architecture == "jumprelu":
        expected["threshold"] = (d_sae,)
    weights = {}
    for name, shape in expected.items():
        if name not in raw:
            raise SourceError(f"{path} has no tensor {name!r} (expected shape {shape}); found: {sorted(raw)}")
        found = tuple(raw[name].shape)
        if found != shape:
            raise SourceError(f"{path}: {name} has shape {found}, expected {shape} from cfg.json "
                              f"(d_in={d_in}, d_sae={d_sae})")
        weights[name] = raw[name].float().contiguous()
    return weights


register_source_kind("sae", SAESource)
