"""One process-wide pool of loaded models, keyed by what was loaded and how (name, dtype, device).

Everything that needs a model asks here — the build, the explainers and scorers, the web, live inference — so
a process holds each model once however many parts use it. Language models have :func:`get_model`; other
kinds (the sentence-embedding model) use :meth:`ModelPool.get` with their own ``kind`` and loader.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar, cast

import torch

from featurepedia.errors import FeaturepediaError, UnavailableError
from featurepedia.lm.model import LanguageModel
from featurepedia.lm.registry import load_model

T = TypeVar("T")


class ModelLoadError(UnavailableError):
    """A model could not be loaded (missing files or package, out of memory, no network for a hub id)."""


@dataclass(frozen=True)
class PoolKey:
    """What a pooled model is: ``kind`` keeps ids of different model families apart."""

    kind: str  # e.g. "language model", "sentence-embedding model"
    name: str
    dtype: torch.dtype = torch.float32
    device: torch.device = torch.device("cpu")

    def __str__(self) -> str:
        return f"{self.kind} {self.name!r} ({str(self.dtype).removeprefix('torch.')} on {self.device})"


class ModelPool:
    """Loaded models by key; the first request for a key loads it, every later one shares it.

    Concurrent first requests for one key load it once (the others wait for it); different keys load in
    parallel. A failed load is not kept, so the next request tries again.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()  # guards the two dicts, never held while loading
        self._models: dict[PoolKey, object] = {}
        self._loading: dict[PoolKey, threading.Lock] = {}

    def get(self, key: PoolKey, load: Callable[[], T]) -> T:
        """The model under ``key``, loaded by ``load()`` on first use.

        ``key`` must say everything that makes ``load``'s result differ: the first loader given for a key is
        the one that runs. A :class:`FeaturepediaError` from ``load`` passes through (it already says what to
        fix); any other failure becomes :class:`ModelLoadError`.
        """
        with self._lock:
            if key in self._models:
                return cast(T, self._models[key])
            key_lock = self._loading.setdefault(key, threading.Lock())
        with key_lock:
            with self._lock:
                if key in self._models:  # loaded by the request this one waited for
                    return cast(T, self._models[key])
            try:
                model = load()
            except FeaturepediaError:
                raise
            except Exception as err:  # any loader failure means the same to the caller: not available
                raise ModelLoadError(
                    f"cannot load the {key}: {err}. Check that its files or package are installed, that a hub "
                    "id can reach the network and that memory is free; the next request tries again"
                ) from err
            with self._lock:
                self._models[key] = model
            return model

    def release(self, key: PoolKey) -> bool:
        """Drop one model (it is freed once no caller holds it); True if it was loaded."""
        with self._lock:
            return self._models.pop(key, None) is not None

    def clear(self) -> None:
        """Drop every model. A load under way when this is called still finishes and is kept."""
        # The per-key locks stay (a few bytes each): dropping one while its load runs would let a second
        # request start the same load beside it.
        with self._lock:
            self._models.clear()

    def keys(self) -> list[PoolKey]:
        """The keys of the models loaded now."""
        with self._lock:
            return list(self._models)


POOL = ModelPool()
LANGUAGE_MODEL = "language model"


def model_key(model_id: str, dtype: torch.dtype = torch.float32, device: torch.device | str = "cpu") -> PoolKey:
    """The pool key of a language model."""
    return PoolKey(LANGUAGE_MODEL, model_id, dtype, torch.device(device))


def get_model(model_id: str, dtype: torch.dtype = torch.float32, device: torch.device | str = "cpu") -> LanguageModel:
    """The process's shared copy of a language model, loaded on first use (see :func:`load_model` for ids).

    Raises:
        ModelNotFoundError: no loader, folder or hub id matches ``model_id``.
        ModelLoadError: it matched but could not be loaded.
    """
    key = model_key(model_id, dtype, device)
    return POOL.get(key, lambda: load_model(model_id, dtype=key.dtype, device=key.device))


def release_model(model_id: str, dtype: torch.dtype = torch.float32, device: torch.device | str = "cpu") -> bool:
    """Drop a language model from the pool; True if it was loaded."""
    return POOL.release(model_key(model_id, dtype, device))
