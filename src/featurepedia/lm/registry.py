"""Model loaders by id: built-ins register the same way a third party would.

An id that is not registered is tried as a local folder, then as a Hugging Face hub id (``org/name``).
Every call loads afresh; callers get their shared copy from :func:`featurepedia.lm.pool.get_model`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

import torch

from featurepedia.errors import NotFoundError
from featurepedia.lm.model import LanguageModel


class Loader(Protocol):
    """Builds a model with its weights in ``dtype`` on ``device``."""

    def __call__(self, *, dtype: torch.dtype, device: torch.device) -> LanguageModel: ...


_LOADERS: dict[str, tuple[Loader, str]] = {}


class ModelNotFoundError(NotFoundError):
    """No loader, local folder or hub model matches a model id."""


def register_model(model_id: str, loader: Loader, description: str = "") -> None:
    """Register ``loader`` under ``model_id``; registering an id twice raises ValueError."""
    if model_id in _LOADERS:
        raise ValueError(f"model id {model_id!r} is already registered")
    _LOADERS[model_id] = (loader, description)


def list_models() -> dict[str, str]:
    """Registered model ids and their descriptions."""
    _ensure_builtins()
    return {k: desc for k, (_, desc) in sorted(_LOADERS.items())}


def load_model(model_id: str, dtype: torch.dtype = torch.float32,
               device: torch.device | str = "cpu") -> LanguageModel:
    """Load a fresh copy of a model by registered id, local folder or Hugging Face hub id.

    Args:
        dtype: the weights' floating-point type.
        device: where the weights go, e.g. ``cpu`` or ``cuda:0``.
    Raises:
        ModelNotFoundError: nothing matches; the message lists the registered ids.
    """
    _ensure_builtins()
    where = torch.device(device)
    if model_id in _LOADERS:
        return _LOADERS[model_id][0](dtype=dtype, device=where)
    from featurepedia.lm import hub

    if Path(model_id).expanduser().is_dir():
        return hub.load_pretrained(str(Path(model_id).expanduser()), model_id=Path(model_id).name,
                                   dtype=dtype, device=where)
    if "/" in model_id and not model_id.startswith((".", "/")):
        return hub.load_pretrained(model_id, model_id=model_id.replace("/", "--").lower(), dtype=dtype,
                                   device=where)
    valid = ", ".join(sorted(_LOADERS))
    raise ModelNotFoundError(
        f"unknown model {model_id!r}; registered models: {valid}; or give a local folder with a "
        "transformers model, or a Hugging Face hub id like 'HuggingFaceTB/SmolLM2-135M' (needs internet)"
    )


_BUILTINS_LOADED = False


def _ensure_builtins() -> None:
    global _BUILTINS_LOADED
    if not _BUILTINS_LOADED:
        _BUILTINS_LOADED = True
        from featurepedia.lm import embedded, tiny  # noqa: F401  (they register themselves)
