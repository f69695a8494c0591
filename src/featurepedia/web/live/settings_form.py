"""The steering page's settings as its query string holds them, so the address is the share link.

Parameters: ``model``, ``prompt``, ``features`` (comma list of ``source:index:strength``), ``temperature``,
``n_tokens``, ``seed``, ``strength_multiplier``, ``freq_penalty``. The form's per-feature rows (``source``,
``index``, ``strength``, repeated) are folded into ``features`` by :func:`canonical_query`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar
from urllib.parse import urlencode

from django.http import QueryDict

from featurepedia.errors import UsageError
from featurepedia.inference.generation import Sampling
from featurepedia.inference.limits import DEFAULT_LIMITS
from featurepedia.inference.queries import SteeredFeature, SteerQuery

N = TypeVar("N", int, float)

# Neuronpedia's steering defaults, so a shared setting means the same on both sites.
DEFAULTS = {"temperature": 0.5, "n_tokens": 32, "seed": 16, "strength_multiplier": 1.0, "freq_penalty": 1.0}
SETTINGS = ("model", "prompt", "features", *DEFAULTS)


@dataclass
class SteerSettings:
    model: str = ""
    prompt: str = ""
    features: list[SteeredFeature] = field(default_factory=list)
    temperature: float = DEFAULTS["temperature"]
    n_tokens: int = int(DEFAULTS["n_tokens"])
    seed: int = int(DEFAULTS["seed"])
    strength_multiplier: float = DEFAULTS["strength_multiplier"]
    freq_penalty: float = DEFAULTS["freq_penalty"]

    def query(self) -> SteerQuery:
        sampling = Sampling(n_tokens=self.n_tokens, temperature=self.temperature, seed=self.seed,
                            freq_penalty=self.freq_penalty)
        return SteerQuery(model=self.model, prompt=self.prompt, features=self.features, sampling=sampling,
                          strength_multiplier=self.strength_multiplier)


def features_param(features: list[SteeredFeature]) -> str:
    return ",".join(f"{f.source}:{f.index}:{f.strength:g}" for f in features)


def parse_features(text: str) -> list[SteeredFeature]:
    """``6-mlp:12:40,6-mlp:7:-20`` as steered features; a malformed item raises a UsageError naming it."""
    features = []
    for item in (part.strip() for part in text.split(",")):
        if not item:
            continue
        source, _, rest = item.partition(":")
        index, _, strength = rest.partition(":")
        if not source or not index:
            raise UsageError(f"{item!r} in features is not source:index:strength, e.g. 6-mlp:123:40")
        features.append(SteeredFeature(source, _number(f"the index in {item!r}", index, int),
                                       _number(f"the strength in {item!r}", strength or "0", float)))
    if len(features) > DEFAULT_LIMITS.max_steer_features:
        raise UsageError(f"{len(features)} features are steered; the limit is {DEFAULT_LIMITS.max_steer_features}")
    return features


def parse_settings(params: QueryDict) -> SteerSettings:
    """The settings of a query string (missing ones take their defaults); a bad value raises a UsageError."""
    s = SteerSettings(model=params.get("model", "").strip(), prompt=params.get("prompt", ""),
                      features=parse_features(params.get("features", "")))
    for name in DEFAULTS:
        raw = params.get(name, "").strip()
        if raw:
            setattr(s, name, _number(name, raw, int if name in ("n_tokens", "seed") else float))
    return s


def _number(what: str, raw: str, kind: Callable[[str], N]) -> N:
    try:
        return kind(raw.strip())
    except ValueError:
        wanted = "a whole number" if kind is int else "a number"
        raise UsageError(f"{what} is {raw!r}; it must be {wanted}") from None


def canonical_query(params: QueryDict) -> str | None:
    """The query string with the form's feature rows folded into ``features``; None when there are no rows
    (the address is already canonical). Empty rows are dropped; removal is a row with its box ticked."""
    if "source" not in params:
        return None
    removed = set(params.getlist("remove"))
    items = []
    for n, (source, index, strength) in enumerate(zip(params.getlist("source"), params.getlist("index"),
                                                      params.getlist("strength"), strict=False)):
        if source.strip() and index.strip() and str(n) not in removed:
            items.append(f"{source.strip()}:{index.strip()}:{strength.strip() or '0'}")
    query = {name: params.get(name, "") for name in SETTINGS if name != "features"}
    query["features"] = ",".join(items)
    # ":" and "," kept as they are, so the share link reads as it is written (6-mlp:12:40).
    return urlencode({k: v for k, v in query.items() if v != ""}, safe=":,")
