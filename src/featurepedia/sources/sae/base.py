"""What every SAE architecture shares: reading its files, the input normalisation and the decoder.

Two on-disk formats are read (the format is told by the files in the folder, see :func:`open_sae`):

* SAELens's: ``cfg.json`` and ``sae_weights.safetensors`` with W_enc [d_in, d_sae], b_enc [d_sae],
  W_dec [d_sae, d_in] and b_dec [d_in], plus any [d_sae] tensors the architecture names in
  ``extra_tensors``. Activation normalisation: ``none`` or ``constant_norm_rescale``.
* EleutherAI's sparsify: see :mod:`featurepedia.sources.sae.sparsify`; it is turned into the same tensors.

A ``path`` may also name an SAE on the Hugging Face hub (``saelens:RELEASE/SAE_ID``,
``sparsify:ORG/REPO[/HOOKPOINT]``): :mod:`featurepedia.sources.sae.remote` downloads it once into the data
dir and the local copy is read as above.

Beside them a folder may hold ``eval.json`` (``featurepedia eval-sae``'s figures: fve, l0, dead_frac, ...)
and ``training.json`` (``featurepedia train-sae``'s settings); both go into the source's config, so a build
stores them with its dashboards and pages show them without reading the folder.
"""

from __future__ import annotations

import json
import math
import re
from abc import abstractmethod
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar

import torch
from torch import Tensor

from featurepedia.lm.hooks import HookPointError
from featurepedia.lm.model import LanguageModel
from featurepedia.sources.base import Source, SourceError
from featurepedia.sources.sae.registry import sae_architecture

NORMALISATIONS = ("none", "constant_norm_rescale")
SAELENS_WEIGHTS = "sae_weights.safetensors"
# SAELens's residual stream before block L is the one after block L - 1, which is the hook point we read.
_RESID_PRE = re.compile(r"^blocks\.(\d+)\.hook_resid_pre$")
EVALUATION_FILE = "eval.json"
TRAINING_FILE = "training.json"


class SAESource(Source):
    """Features of an SAE; each architecture subclasses it with its activation.

    Attributes:
        extra_tensors: names of the [d_sae] tensors the architecture reads beside the four every SAE has.
        cfg: the SAELens-style settings it was built from (a sparsify cfg.json is translated to them).
        path: the folder its files are in.
        file_format: ``saelens`` or ``sparsify``.
        origin: the hub spec it was downloaded from (``saelens:...``, ``sparsify:...``), or None.
        evaluation / training: the folder's eval.json and training.json, or None where it has none.
    """

    kind = "sae"
    nonnegative = True
    extra_tensors: ClassVar[tuple[str, ...]] = ()

    def __init__(self, model: LanguageModel, folder: Path, cfg: dict[str, Any], source_id: str | None = None,
                 hook_name: str | None = None, default_hook: str | None = None, *,
                 weights: Mapping[str, Tensor] | None = None, file_format: str = "saelens",
                 origin: str | None = None) -> None:
        """Check the SAE against the model and read its weights.

        Args:
            hook_name: the hook point it reads; None takes cfg.json's, then ``default_hook``.
            weights: the raw tensors, SAELens names (None reads ``sae_weights.safetensors`` of ``folder``).
        """
        self.cfg = cfg
        self.path = folder
        self.file_format = file_format
        self.origin = origin
        self.architecture = architecture_of(cfg)
        where = f"{folder}/cfg.json"
        self.normalize = cfg.get("normalize_activations", "none") or "none"
        if self.normalize not in NORMALISATIONS:
            raise SourceError(f"{where}: normalize_activations {self.normalize!r} is not supported; "
                              f"supported: {', '.join(NORMALISATIONS)}")
        reshape = cfg.get("reshape_activations", "none") or "none"
        if reshape != "none":
            raise SourceError(f"{where}: reshape_activations {reshape!r} (attention heads) is not supported; "
                              "Featurepedia reads SAEs on the residual stream and on MLP neurons")
        named = hook_name or (cfg.get("metadata") or {}).get("hook_name") or cfg.get("hook_name") or default_hook
        if not named:
            raise SourceError(f"{where} names no hook point; pass one, e.g. --hook blocks.6.hook_resid_post")
        hook, layer_aliases = model_hook(model, str(named), where)
        point = model.hook_point(hook)
        width = model.hook_width(hook)
        d_in, d_sae = int(cfg["d_in"]), int(cfg["d_sae"])
        if d_in != width:
            trained_on = (cfg.get("metadata") or {}).get("model_name") or cfg.get("model_name")
            raise SourceError(
                f"SAE at {folder} has d_in={d_in} but {hook} of {model.model_id} has width {width}: it was "
                f"trained on another model or hook point{f' ({trained_on})' if trained_on else ''}; "
                "use an SAE trained on this model's hook point")
        if weights is None:
            raw = load_safetensors(folder / SAELENS_WEIGHTS, "SAELens format needs it beside cfg.json")
            weights = checked_tensors(raw, folder / SAELENS_WEIGHTS, saelens_shapes(d_in, d_sae, self.extra_tensors),
                                      f"from cfg.json (d_in={d_in}, d_sae={d_sae})")
        self.weights = dict(weights)
        self.evaluation = read_notes(folder / EVALUATION_FILE)
        self.training = read_notes(folder / TRAINING_FILE)
        self.apply_b_dec_to_input = bool(cfg.get("apply_b_dec_to_input", True))
        if source_id is not None and not any(source_id.startswith(f"{n}-") for n in layer_aliases):
            starts = " or ".join(f"'{n}-'" for n in layer_aliases)
            raise SourceError(f"source id {source_id!r} does not match the SAE's hook point {named} "
                              f"(layer {layer_aliases[0]}); use an id starting with {starts}")
        site = "res" if point.site == "resid_post" else "mlp"
        super().__init__(source_id or f"{point.layer}-{site}-sae", hook, d_in, d_sae)
        self.read_options(cfg)

    def read_options(self, cfg: dict[str, Any]) -> None:
        """Read the architecture's own settings from cfg.json; raise SourceError when one is invalid."""

    @abstractmethod
    def activate(self, pre: Tensor) -> Tensor:
        """Feature activations from the encoder's pre-activations: [..., d_sae] -> [..., d_sae]."""

    def encode(self, hidden: Tensor) -> Tensor:
        """Feature activations: [..., d_in] -> [..., d_sae]."""
        w = self.weights
        x = hidden.to(self.dtype)
        if self.normalize == "constant_norm_rescale":
            x = x * (math.sqrt(self.d_in) / x.norm(dim=-1, keepdim=True).clamp_min(1e-8))
        if self.apply_b_dec_to_input:
            x = x - w["b_dec"]
        return self.activate_biased(x @ w["W_enc"], w["b_enc"])

    def activate_biased(self, product: Tensor, bias: Tensor) -> Tensor:
        """``activate(product + bias)``; an architecture may do both in one pass (and in place: ``product``
        is the encoder's own fresh output)."""
        return self.activate(product + bias)

    def decode(self, acts: Tensor) -> Tensor:
        """The reconstruction from feature activations, in the encoder's input space: [..., d_sae] -> [..., d_in].

        With ``constant_norm_rescale`` that space is the rescaled one; :meth:`reconstruct` undoes the scale.
        """
        w = self.weights
        return acts.to(self.dtype) @ w["W_dec"] + w["b_dec"]

    def reconstruct(self, hidden: Tensor) -> Tensor:
        """The SAE's reconstruction of hook activations, in their own scale: [..., d_in] -> [..., d_in]."""
        out = self.decode(self.encode(hidden))
        if self.normalize == "constant_norm_rescale":
            out = out * (hidden.to(self.dtype).norm(dim=-1, keepdim=True) / math.sqrt(self.d_in))
        return out

    def decoder_directions(self) -> Tensor:
        return self.weights["W_dec"]  # [d_sae, d_in]

    @property
    def device(self) -> torch.device:
        """Where the weights are (encode expects its input there)."""
        return self.weights["W_enc"].device

    @property
    def dtype(self) -> torch.dtype:
        """The weights' dtype (encode computes in it)."""
        return self.weights["W_enc"].dtype

    def config(self) -> dict[str, Any]:
        notes = {name: value for name, value in (("evaluation", self.evaluation), ("training", self.training))
                 if value is not None}
        return {**super().config(), "path": str(self.path), "architecture": self.architecture,
                "format": self.file_format, "origin": self.origin, "sae_cfg": self.cfg, **notes}


def open_sae(model: LanguageModel, path: str | Path, source_id: str | None = None, hook_name: str | None = None,
             default_hook: str | None = None) -> SAESource:
    """The SAE at ``path``, as the class registered for its architecture.

    Args:
        path: a SAELens folder (``cfg.json`` + ``sae_weights.safetensors``), a sparsify folder (``cfg.json`` +
            ``sae.safetensors``, or a folder of such folders named by hook point), or a hub spec
            ``saelens:RELEASE/SAE_ID`` / ``sparsify:ORG/REPO[/HOOKPOINT]`` (downloaded once; needs internet).
        hook_name: the hook point it reads; None takes cfg.json's, then ``default_hook``.
        source_id: its id (``6-res-sae``); None makes one from the hook point.
    """
    from featurepedia.sources.sae import remote, sparsify

    origin = None
    if remote.is_spec(str(path)):
        origin = str(path)
        folder = remote.fetch(origin, model, hook_name or default_hook)
    else:
        folder = Path(path).expanduser()
    if folder.is_file() and folder.name in ("cfg.json", SAELENS_WEIGHTS, sparsify.WEIGHTS):
        folder = folder.parent  # a file of the SAE was named: its folder is meant
    if sparsify.is_sparsify(folder):
        return sparsify.open_sparsify(model, folder, source_id=source_id, hook_name=hook_name,
                                      default_hook=default_hook, origin=origin)
    cfg = read_cfg(folder)
    if "transcoder" in architecture_of(cfg):
        raise SourceError(f"{folder}/cfg.json: a transcoder (architecture {architecture_of(cfg)!r}) reads one hook "
                          "point and predicts another, which Featurepedia does not read yet; use a sparse "
                          "autoencoder")
    try:
        cls = sae_architecture(architecture_of(cfg))
    except SourceError as err:
        raise SourceError(f"{folder}/cfg.json: {err}") from None
    return cls(model, folder, cfg, source_id=source_id, hook_name=hook_name, default_hook=default_hook,
               origin=origin)


def model_hook(model: LanguageModel, name: str, where: str) -> tuple[str, list[int]]:
    """The hook point of ``model`` an SAE's ``name`` means, and the layer numbers its source id may start with.

    ``blocks.L.hook_resid_pre`` (SAELens's usual residual hook) is read as ``blocks.{L-1}.hook_resid_post``:
    the same activations; its id may start with L (as Neuronpedia numbers it) or L-1. A name the model lacks
    raises SourceError naming the SAE and what the model has.
    """
    aliases: list[int] = []
    pre = _RESID_PRE.match(name)
    if pre:
        layer = int(pre.group(1))
        if layer == 0:
            raise SourceError(f"{where}: hook point {name} is the embedding output, which Featurepedia does not "
                              "read; SAEs on blocks.L.hook_resid_pre with L >= 1 are read at "
                              "blocks.{L-1}.hook_resid_post")
        aliases.append(layer)
        name = f"blocks.{layer - 1}.hook_resid_post"
    try:
        point = model.hook_point(name)
    except HookPointError as err:
        raise SourceError(f"{where}: the SAE's hook point does not fit {model.model_id}: {err}") from None
    return point.name, [point.layer, *aliases]


def architecture_of(cfg: dict[str, Any]) -> str:
    """The architecture cfg.json names (SAELens's default, ``standard``, when it names none)."""
    return str(cfg.get("architecture") or "standard")


def read_json(cfg_path: Path) -> dict[str, Any]:
    """A cfg.json as a dict; SourceError when it is not a JSON object."""
    try:
        cfg = json.loads(cfg_path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise SourceError(f"{cfg_path} is not valid JSON: {err}") from None
    if not isinstance(cfg, dict):
        raise SourceError(f"{cfg_path} must hold a JSON object; found {type(cfg).__name__}")
    return cfg


def read_notes(path: Path) -> dict[str, Any] | None:
    """An optional JSON object beside the SAE (eval.json, training.json), None when absent. Numbers that
    are not finite (a NaN figure) become None, which every database's JSON column can store."""
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise SourceError(f"{path} is not valid JSON: {err}; fix or remove it "
                          "(the SAE works without it)") from None
    if not isinstance(data, dict):
        raise SourceError(f"{path} must hold a JSON object, found {type(data).__name__}; fix or remove it "
                          "(the SAE works without it)")
    return _finite(data)


def _finite(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {key: _finite(v) for key, v in value.items()}
    if isinstance(value, list):
        return [_finite(v) for v in value]
    return value


def read_cfg(folder: Path) -> dict[str, Any]:
    """cfg.json of a SAELens folder, checked for integer d_in and d_sae."""
    cfg_path = folder / "cfg.json"
    if not cfg_path.is_file():
        raise SourceError(f"no SAE at {folder}: expected cfg.json and {SAELENS_WEIGHTS} (SAELens format), or "
                          "cfg.json and sae.safetensors (sparsify format, or one such folder per hook point)")
    cfg = read_json(cfg_path)
    for key in ("d_in", "d_sae"):
        if not isinstance(cfg.get(key), int) or isinstance(cfg.get(key), bool) or cfg[key] <= 0:
            raise SourceError(f"{cfg_path} needs a positive integer {key!r}; found {cfg.get(key)!r}")
    return cfg


def saelens_shapes(d_in: int, d_sae: int, extra: tuple[str, ...] = ()) -> dict[str, tuple[int, ...]]:
    """The tensors of a SAELens folder and their shapes."""
    return {"W_enc": (d_in, d_sae), "b_enc": (d_sae,), "W_dec": (d_sae, d_in), "b_dec": (d_in,),
            **{name: (d_sae,) for name in extra}}


def load_safetensors(path: Path, needed: str) -> dict[str, Tensor]:
    """Every tensor of a safetensors file; SourceError when it is missing, truncated or not one."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    if not path.is_file():
        raise SourceError(f"no {path.name} in {path.parent} ({needed})")
    try:
        return load_file(str(path))
    except (SafetensorError, OSError, ValueError) as err:
        raise SourceError(f"{path} is corrupt or not a safetensors file ({err}); if it was downloaded, delete "
                          "it and download it again") from None


def checked_tensors(raw: Mapping[str, Tensor], path: Path, expected: Mapping[str, tuple[int, ...]],
                    implied_by: str) -> dict[str, Tensor]:
    """The ``expected`` tensors of ``raw`` as contiguous float32, each checked for its shape and for NaN/inf.

    Args:
        implied_by: where the expected shapes come from, for messages (``from cfg.json (d_in=64, d_sae=96)``).
    """
    weights = {}
    for name, shape in expected.items():
        if name not in raw:
            raise SourceError(f"{path} has no tensor {name!r} (expected shape {shape}); found: {sorted(raw)}")
        found = tuple(raw[name].shape)
        if found != shape:
            raise SourceError(f"{path}: {name} has shape {found}, expected {shape} {implied_by}")
        tensor = raw[name].float().contiguous()
        bad = int((~torch.isfinite(tensor)).sum())
        if bad:
            raise SourceError(f"{path}: {name} holds {bad} NaN or infinite value(s) of {tensor.numel()}; the file "
                              "is corrupt or its training diverged")
        weights[name] = tensor
    return weights
