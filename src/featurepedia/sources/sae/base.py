"""What every SAE architecture shares: the SAELens folder, the input normalisation and the decoder.

A folder holds ``cfg.json`` and ``sae_weights.safetensors`` with W_enc [d_in, d_sae], b_enc [d_sae],
W_dec [d_sae, d_in] and b_dec [d_in], plus any [d_sae] tensors the architecture names in
``extra_tensors``. Activation normalisation: ``none`` or ``constant_norm_rescale``.

Beside them a folder may hold ``eval.json`` (``featurepedia eval-sae``'s figures: fve, l0, dead_frac, ...)
and ``training.json`` (``featurepedia train-sae``'s settings); both go into the source's config, so a build
stores them with its dashboards and pages show them without reading the folder.
"""

from __future__ import annotations

import json
import math
from abc import abstractmethod
from pathlib import Path
from typing import Any, ClassVar

import torch
from torch import Tensor

from featurepedia.lm.model import LanguageModel
from featurepedia.sources.base import Source, SourceError
from featurepedia.sources.sae.registry import sae_architecture

NORMALISATIONS = ("none", "constant_norm_rescale")
EVALUATION_FILE = "eval.json"
TRAINING_FILE = "training.json"


class SAESource(Source):
    """Features of an SAE read from a SAELens folder; each architecture subclasses it with its activation.

    Attributes:
        extra_tensors: names of the [d_sae] tensors the architecture reads beside the four every SAE has.
        evaluation / training: the folder's eval.json and training.json, or None where it has none.
    """

    kind = "sae"
    nonnegative = True
    extra_tensors: ClassVar[tuple[str, ...]] = ()

    def __init__(self, model: LanguageModel, folder: Path, cfg: dict[str, Any], source_id: str | None = None,
                 hook_name: str | None = None, default_hook: str | None = None) -> None:
        self.cfg = cfg
        self.path = folder
        self.architecture = architecture_of(cfg)
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
        self.weights = read_weights(folder, d_in, d_sae, self.extra_tensors)
        self.evaluation = read_notes(folder / EVALUATION_FILE)
        self.training = read_notes(folder / TRAINING_FILE)
        self.apply_b_dec_to_input = bool(cfg.get("apply_b_dec_to_input", True))
        layer = model.hook_point(hook).layer
        if source_id is not None and not source_id.startswith(f"{layer}-"):
            raise SourceError(f"source id {source_id!r} does not match the SAE's hook point {hook} "
                              f"(layer {layer}); use an id starting with '{layer}-'")
        site = "res" if model.hook_point(hook).site == "resid_post" else "mlp"
        super().__init__(source_id or f"{layer}-{site}-sae", hook, d_in, d_sae)
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
        return self.activate(x @ w["W_enc"] + w["b_enc"])

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
                "sae_cfg": self.cfg, **notes}


def open_sae(model: LanguageModel, path: str | Path, source_id: str | None = None, hook_name: str | None = None,
             default_hook: str | None = None) -> SAESource:
    """The SAE in a SAELens folder, as the class registered for its cfg.json's ``architecture``.

    Args:
        hook_name: the hook point it reads; None takes cfg.json's, then ``default_hook``.
        source_id: its id (``6-res-sae``); None makes one from the hook point.
    """
    folder = Path(path).expanduser()
    cfg = read_cfg(folder)
    try:
        cls = sae_architecture(architecture_of(cfg))
    except SourceError as err:
        raise SourceError(f"{folder}/cfg.json: {err}") from None
    return cls(model, folder, cfg, source_id=source_id, hook_name=hook_name, default_hook=default_hook)


def architecture_of(cfg: dict[str, Any]) -> str:
    """The architecture cfg.json names (SAELens's default, ``standard``, when it names none)."""
    return str(cfg.get("architecture") or "standard")


def read_cfg(folder: Path) -> dict[str, Any]:
    """cfg.json of a SAELens folder, checked for integer d_in and d_sae."""
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


def read_weights(folder: Path, d_in: int, d_sae: int, extra: tuple[str, ...] = ()) -> dict[str, Tensor]:
    """The SAE's tensors as contiguous float32, each checked against the shape cfg.json implies."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    path = folder / "sae_weights.safetensors"
    if not path.is_file():
        raise SourceError(f"no {path.name} in {folder} (SAELens format needs it beside cfg.json)")
    try:
        raw = load_file(str(path))
    except (SafetensorError, OSError, ValueError) as err:
        raise SourceError(f"{path} is corrupt or not a safetensors file: {err}") from None
    expected = {"W_enc": (d_in, d_sae), "b_enc": (d_sae,), "W_dec": (d_sae, d_in), "b_dec": (d_in,),
                **{name: (d_sae,) for name in extra}}
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
