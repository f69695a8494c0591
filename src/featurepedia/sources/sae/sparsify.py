"""EleutherAI's sparsify format: TopK sparse autoencoders saved one folder per hook point.

The format, as sparsify's own ``SparseCoder`` (``sparsify/sparse_coder.py``, ``config.py``,
``fused_encoder.py``) writes and reads it:

* A folder per hook point, named by the module whose output the SAE reads, relative to the HF model's
  ``base_model``: ``layers.6`` (Llama, Mistral, Qwen, NeoX...) or ``h.6`` (GPT-2) is the output of block 6,
  i.e. our ``blocks.6.hook_resid_post``. A hub repo (or a local training output) holds several.
* ``cfg.json``: ``d_in`` and the config's fields ``activation`` (``topk`` | ``groupmax``), ``expansion_factor``
  (default 32), ``num_latents`` (0 means ``d_in * expansion_factor``), ``k`` (default 32), ``normalize_decoder``,
  ``multi_topk``, ``skip_connection``, ``transcode`` (the last two only in newer versions; a short-lived
  version had ``signed``).
* ``sae.safetensors`` (``safetensors.torch.save_model`` of the module): ``encoder.weight``
  [num_latents, d_in], ``encoder.bias`` [num_latents], ``W_dec`` [num_latents, d_in], ``b_dec`` [d_in], and
  ``W_skip`` [d_in, d_in] with a skip connection. Often bfloat16; we compute in float32.
* Encoding: ``pre = relu((x - b_dec) @ encoder.weight.T + encoder.bias)`` (a transcoder does not subtract
  ``b_dec``); ``topk`` keeps the k largest of ``pre``, ``groupmax`` splits the latents into k consecutive
  groups and keeps each group's largest. Decoding: ``acts @ W_dec + b_dec``. ``normalize_decoder`` and
  ``multi_topk`` only change training. TopK over ReLU values equals our :class:`TopKSAE` (ReLU of the top k).

So a sparsify SAE becomes the SAELens tensors W_enc = encoder.weight.T, b_enc = encoder.bias, W_dec, b_dec,
with ``apply_b_dec_to_input`` true and no input normalisation. Refused, with a message: transcoders
(``transcode: true``), skip connections (only skip-transcoders use them), ``signed`` latents, and hook points
other than a block's output (or, for GPT-2 and NeoX, ``h.L.mlp.act``: the MLP neurons). SAELens's own
sparsify converter is not used: it transposes W_dec and ties ``apply_b_dec_to_input`` to
``normalize_decoder``, which sparsify's encoder does not do.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from featurepedia.lm.model import LanguageModel
from featurepedia.sources.base import SourceError
from featurepedia.sources.sae.base import SAESource, checked_tensors, load_safetensors, model_hook, read_json
from featurepedia.sources.sae.topk import TopKSAE

WEIGHTS = "sae.safetensors"
ACTIVATIONS = ("topk", "groupmax")
# The module whose output is the MLP neurons (the input of the MLP's output projection), by model family;
# gated MLPs (Llama) have none: their neurons are a product computed inside the MLP's forward.
_NEURON_MODULE = {"gpt2": "mlp.act", "gpt_neox": "mlp.act"}
# Block containers of Hugging Face base models: "layers" (Llama, Mistral, Qwen, Gemma, NeoX), "h" (GPT-2).
_OTHER_BLOCKS = re.compile(r"^(layers|h|blocks)\.\d+")


class GroupMaxSAE(SAESource):
    """sparsify's ``groupmax``: the latents form k consecutive groups; each group's largest ReLU value passes."""

    k: int

    def read_options(self, cfg: dict[str, Any]) -> None:
        self.k = int(cfg["k"])

    def activate(self, pre: Tensor) -> Tensor:
        groups = torch.relu(pre).unflatten(-1, (self.k, -1))  # [..., k, d_sae / k]
        values, indices = groups.max(dim=-1, keepdim=True)
        return torch.zeros_like(groups).scatter(-1, indices, values).flatten(-2)


def is_sparsify(folder: Path) -> bool:
    """Whether ``folder`` holds a sparsify SAE, or one folder per hook point of them."""
    if (folder / WEIGHTS).is_file():
        return True
    if (folder / "sae_weights.safetensors").is_file():
        return False
    if (folder / "cfg.json").is_file():
        cfg = read_json(folder / "cfg.json")
        return "d_sae" not in cfg and ("num_latents" in cfg or "expansion_factor" in cfg)
    return folder.is_dir() and any((sub / WEIGHTS).is_file() for sub in folder.iterdir() if sub.is_dir())


def blocks_prefix(model: LanguageModel) -> str:
    """The module name of the model's blocks relative to its ``base_model`` (``layers``, ``h``)."""
    base = model.hf.base_model
    for name, module in base.named_modules():
        if module is model.blocks:
            return str(name)
    raise SourceError(f"cannot name the blocks of {model.model_id} as sparsify does (relative to its base model)")


def hookpoint_of(model: LanguageModel, hook_name: str) -> str:
    """sparsify's folder name for one of our hook points: ``blocks.6.hook_resid_post`` -> ``layers.6``."""
    point = model.hook_point(model_hook(model, hook_name, "the hook point asked for")[0])
    prefix = blocks_prefix(model)
    if point.site == "resid_post":
        return f"{prefix}.{point.layer}"
    neurons = _NEURON_MODULE.get(model.family.name)
    if neurons is None:
        raise SourceError(f"{hook_name} of {model.model_id} (a gated MLP's neurons) is the output of no module, "
                          "so no sparsify SAE reads it; use a residual hook point, e.g. "
                          f"blocks.{point.layer}.hook_resid_post")
    return f"{prefix}.{point.layer}.{neurons}"


def hook_of(model: LanguageModel, hookpoint: str, folder: Path) -> str | None:
    """Our hook point for a sparsify folder name; None when the name is not a hook point (a renamed folder).

    A name of this model's blocks that we cannot read, or of another model's blocks, raises SourceError.
    """
    prefix = blocks_prefix(model)
    match = re.fullmatch(rf"{re.escape(prefix)}\.(\d+)(?:\.(.+))?", hookpoint)
    neurons = _NEURON_MODULE.get(model.family.name)
    readable = f"'{prefix}.N' (the residual stream after block N)" + (
        f" or '{prefix}.N.{neurons}' (MLP neurons)" if neurons else "")
    if match:
        layer, rest = int(match.group(1)), match.group(2)
        if rest is None:
            return f"blocks.{layer}.hook_resid_post"
        if rest == neurons:
            return f"blocks.{layer}.mlp.hook_post"
        raise SourceError(f"sparsify SAE at {folder} reads hook point {hookpoint!r}, which Featurepedia does not "
                          f"read; it reads {readable}")
    if hookpoint == "embed_tokens" or _OTHER_BLOCKS.match(hookpoint):
        raise SourceError(f"sparsify SAE at {folder} reads hook point {hookpoint!r}, which {model.model_id} "
                          f"does not have: its hook points are named {readable}; was it trained on another model?")
    return None


def open_sparsify(model: LanguageModel, folder: Path, *, source_id: str | None = None,
                  hook_name: str | None = None, default_hook: str | None = None,
                  origin: str | None = None) -> SAESource:
    """The sparsify SAE in ``folder`` (or in its subfolder for the hook point, when it holds one per hook)."""
    if not (folder / "cfg.json").is_file():
        folder = _hook_folder(model, folder, hook_name or default_hook)
    cfg_path = folder / "cfg.json"
    raw_cfg = read_json(cfg_path)
    named = hook_of(model, folder.name, folder)
    if named is not None and hook_name is not None and model_hook(model, hook_name, str(cfg_path))[0] != named:
        raise SourceError(f"sparsify SAE at {folder} reads {folder.name} ({named} of {model.model_id}), "
                          f"not the hook point asked for, {hook_name}; pick the folder named "
                          f"{hookpoint_of(model, hook_name)}")
    cfg = translate_cfg(raw_cfg, cfg_path)
    d_in, d_sae = cfg["d_in"], cfg["d_sae"]
    raw = load_safetensors(folder / WEIGHTS, "sparsify format needs it beside cfg.json")
    implied = f"from cfg.json (d_in={d_in}, num_latents={d_sae})"
    tensors = checked_tensors(raw, folder / WEIGHTS, {"encoder.weight": (d_sae, d_in), "encoder.bias": (d_sae,),
                                                      "W_dec": (d_sae, d_in), "b_dec": (d_in,)}, implied)
    weights = {"W_enc": tensors["encoder.weight"].T.contiguous(), "b_enc": tensors["encoder.bias"],
               "W_dec": tensors["W_dec"], "b_dec": tensors["b_dec"]}
    cls: type[SAESource] = TopKSAE if cfg["architecture"] == "topk" else GroupMaxSAE
    return cls(model, folder, cfg, source_id=source_id, hook_name=hook_name or named, default_hook=default_hook,
               weights=weights, file_format="sparsify", origin=origin)


def translate_cfg(raw: dict[str, Any], cfg_path: Path) -> dict[str, Any]:
    """sparsify's cfg.json as the SAELens-style settings :class:`SAESource` reads (refusing what it cannot read)."""
    if raw.get("transcode"):
        raise SourceError(f"{cfg_path} is a sparsify transcoder (transcode: true): it reads one hook point and "
                          "predicts another, which Featurepedia does not read yet; use a sparse autoencoder")
    if raw.get("skip_connection"):
        raise SourceError(f"{cfg_path} has a skip connection (skip_connection: true), which only sparsify's "
                          "skip-transcoders use; Featurepedia does not read those yet")
    if raw.get("signed"):
        raise SourceError(f"{cfg_path} has signed latents (signed: true); Featurepedia reads non-negative "
                          "latents only")

    def whole(key: str, default: int) -> int:
        value = raw.get(key, default)
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise SourceError(f"{cfg_path} needs a non-negative integer {key!r}; found {value!r}")
        return value

    d_in = whole("d_in", 0)
    if d_in == 0:
        raise SourceError(f"{cfg_path} needs a positive integer 'd_in' (the hook point's width); "
                          f"found {raw.get('d_in')!r}")
    d_sae = whole("num_latents", 0) or d_in * whole("expansion_factor", 32)
    k = whole("k", 32)
    activation = raw.get("activation", "topk")
    if activation not in ACTIVATIONS:
        raise SourceError(f"{cfg_path}: activation {activation!r} is not supported; supported: "
                          f"{', '.join(ACTIVATIONS)}")
    if not 0 < k <= d_sae:
        raise SourceError(f"{cfg_path}: a sparsify SAE needs 0 < k <= num_latents ({d_sae}); found k={k}")
    if activation == "groupmax" and d_sae % k:
        raise SourceError(f"{cfg_path}: groupmax splits num_latents ({d_sae}) into k={k} equal groups, "
                          "which it does not divide into")
    return {"architecture": activation, "d_in": d_in, "d_sae": d_sae, "k": k, "apply_b_dec_to_input": True,
            "normalize_activations": "none", "sparsify_cfg": raw}


def _hook_folder(model: LanguageModel, folder: Path, hook: str | None) -> Path:
    """The subfolder for ``hook`` of a folder holding one sparsify SAE per hook point."""
    if not folder.is_dir():
        raise SourceError(f"no SAE at {folder}: the folder does not exist")
    available = sorted(sub.name for sub in folder.iterdir() if (sub / WEIGHTS).is_file())
    if hook is None:
        raise SourceError(f"{folder} holds sparsify SAEs for several hook points ({', '.join(available)}); "
                          "say which with a source id or --hook, or pass one of its folders")
    name = hookpoint_of(model, hook)
    if name not in available:
        shown = ", ".join(available[:12]) + (", ..." if len(available) > 12 else "")
        raise SourceError(f"{folder} has no sparsify SAE for {hook} (a folder named {name}); it has: {shown}")
    return folder / name
