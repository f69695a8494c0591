"""Language models: loading (one shared copy each, from the pool), named hook points, running with hooks, token display strings."""

from featurepedia.lm.hooks import HookPoint, HookPointError
from featurepedia.lm.model import HookFn, LanguageModel
from featurepedia.lm.pool import ModelLoadError, get_model, release_model
from featurepedia.lm.registry import (
    ModelNotFoundError,
    list_models,
    load_model,
    register_model,
)
from featurepedia.lm.tokens import TokenText, display_tokens

__all__ = [
    "HookFn",
    "HookPoint",
    "HookPointError",
    "LanguageModel",
    "ModelLoadError",
    "ModelNotFoundError",
    "TokenText",
    "display_tokens",
    "get_model",
    "list_models",
    "load_model",
    "register_model",
    "release_model",
]
