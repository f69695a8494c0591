"""Explainers and scorers by name: built-ins register the same way a third party would.

A factory is a callable taking keyword options, or a ``"module:attribute"`` string imported on first use
(so listing names never imports torch or a model).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

from featurepedia.interp.base import Explainer, Scorer
from featurepedia.interp.errors import UnknownComponentError

Factory = Callable[..., Any] | str

_EXPLAINERS: dict[str, Factory] = {}
_SCORERS: dict[str, Factory] = {}


def register_explainer(name: str, factory: Factory) -> None:
    """Register an explainer factory under ``name``; registering a name twice raises ValueError."""
    _register(_EXPLAINERS, "explainer", name, factory)


def register_scorer(name: str, factory: Factory) -> None:
    """Register a scorer factory under ``name``; registering a name twice raises ValueError."""
    _register(_SCORERS, "scorer", name, factory)


def get_explainer(name: str, **options: Any) -> Explainer:
    """A new explainer ``name`` built with ``options`` (e.g. ``get_explainer("local-lm", max_new_tokens=24)``).

    Raises:
        UnknownComponentError: nothing is registered under ``name``; the message lists what is.
    """
    return _resolve(_EXPLAINERS, "explainer", name)(**options)


def get_scorer(name: str, **options: Any) -> Scorer:
    """A new scorer ``name`` built with ``options`` (e.g. ``get_scorer("embedding", view="window")``).

    Raises:
        UnknownComponentError: nothing is registered under ``name``; the message lists what is.
    """
    return _resolve(_SCORERS, "scorer", name)(**options)


def list_explainers() -> list[str]:
    _ensure_builtins()
    return sorted(_EXPLAINERS)


def list_scorers() -> list[str]:
    _ensure_builtins()
    return sorted(_SCORERS)


def _register(table: dict[str, Factory], kind: str, name: str, factory: Factory) -> None:
    _ensure_builtins()
    if not name or not isinstance(name, str):
        raise ValueError(f"a {kind} name must be a non-empty string, not {name!r}")
    if name in table:
        raise ValueError(f"{kind} {name!r} is already registered")
    if not (callable(factory) or (isinstance(factory, str) and ":" in factory)):
        raise TypeError(f"a {kind} factory must be callable or a 'module:attribute' string, not {factory!r}")
    table[name] = factory


def _resolve(table: dict[str, Factory], kind: str, name: str) -> Callable[..., Any]:
    _ensure_builtins()
    if name not in table:
        known = ", ".join(sorted(table)) or "(none)"
        raise UnknownComponentError(f"unknown {kind} {name!r}; registered {kind}s: {known}")
    factory = table[name]
    if isinstance(factory, str):
        module, _, attr = factory.partition(":")
        factory = getattr(importlib.import_module(module), attr)
        table[name] = factory
    return factory


_BUILTINS_LOADED = False


def _ensure_builtins() -> None:
    global _BUILTINS_LOADED
    if _BUILTINS_LOADED:
        return
    _BUILTINS_LOADED = True
    importlib.import_module("featurepedia.interp.builtins")
