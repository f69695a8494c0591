"""A Source is a basis of features at one hook point of a model."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor

from featurepedia.errors import FeaturepediaError

_KINDS: dict[str, Callable[..., Source]] = {}


class SourceError(FeaturepediaError, ValueError):
    """A source cannot be built: unknown kind, bad id, corrupt or mismatched weights."""


class Source(ABC):
    """Features at one hook point.

    Attributes:
        source_id: Neuronpedia-style id, ``{layer}-{set}`` (e.g. ``6-mlp``, ``6-res-sae``).
        kind: the registered kind (``neurons``, ``sae``).
        hook_name: TransformerLens-style hook point the features read.
        d_in: width of the hook point.
        n_features: number of features.
        nonnegative: True when every activation is >= 0 and 0 means "off" (SAEs); False for signed bases
            such as gated-MLP neurons, where activity is measured against a threshold relative to the max.
    """

    kind: str = ""
    nonnegative: bool = True

    def __init__(self, source_id: str, hook_name: str, d_in: int, n_features: int) -> None:
        self.source_id = source_id
        self.hook_name = hook_name
        self.d_in = d_in
        self.n_features = n_features

    @property
    def device(self) -> torch.device:
        """Where ``encode`` computes (its input goes there); the CPU unless a kind says otherwise."""
        return torch.device("cpu")

    @property
    def dtype(self) -> torch.dtype:
        """The floating-point type ``encode`` computes in; float32 unless a kind says otherwise."""
        return torch.float32

    @abstractmethod
    def encode(self, hidden: Tensor) -> Tensor:
        """Feature activations: [..., d_in] -> [..., n_features]."""

    @abstractmethod
    def decoder_directions(self) -> Tensor:
        """Each feature's write direction at the hook point: [n_features, d_in]."""

    def config(self) -> dict[str, Any]:
        """What to save next to artifacts built from this source."""
        return {"source_id": self.source_id, "kind": self.kind, "hook_name": self.hook_name,
                "d_in": self.d_in, "n_features": self.n_features, "nonnegative": self.nonnegative}


def register_source_kind(kind: str, factory: Callable[..., Source]) -> None:
    """Register a source kind; registering a kind twice raises ValueError."""
    if kind in _KINDS:
        raise ValueError(f"source kind {kind!r} is already registered")
    _KINDS[kind] = factory


def source_kinds() -> list[str]:
    _ensure_builtins()
    return sorted(_KINDS)


def build_source(kind: str, **kwargs: Any) -> Source:
    """Build a source of a registered kind; unknown kinds raise SourceError listing the known ones."""
    _ensure_builtins()
    if kind not in _KINDS:
        raise SourceError(f"unknown source kind {kind!r}; known kinds: {', '.join(sorted(_KINDS))}")
    return _KINDS[kind](**kwargs)


_BUILTINS_LOADED = False


def _ensure_builtins() -> None:
    global _BUILTINS_LOADED
    if not _BUILTINS_LOADED:
        _BUILTINS_LOADED = True
        from featurepedia.sources import neurons, sae  # noqa: F401  (they register themselves)
