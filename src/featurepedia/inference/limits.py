"""What one inference request may ask for, and the checks that say so in their error messages.

The service and the API answer a breach with 400 and the message as it is: it names the limit and the fix.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from featurepedia.errors import UsageError
from featurepedia.sources.base import Source


@dataclass(frozen=True)
class Limits:
    """Caps per request (Neuronpedia's where it has one: 100 results, 20 per token, 256 steered tokens).

    Attributes:
        max_chars: characters of one text (checked before tokenising, so a huge text costs nothing).
        max_tokens: tokens of one text, BOS included (also capped by the model's context window).
        max_texts: texts in one request.
        max_features: features in one activation request.
        max_results: features a top-features search returns.
        max_topk: features per token in a top-k-by-token search.
        max_steer_features: features steered at once.
        max_new_tokens: tokens one steering run generates.
        max_strength: largest |strength x strength_multiplier| of a steered feature; beyond it the
            residual stream is swamped and the output is noise (or not finite).
    """

    max_chars: int = 10_000
    max_tokens: int = 512
    max_texts: int = 32
    max_features: int = 256
    max_results: int = 100
    max_topk: int = 20
    max_steer_features: int = 32
    max_new_tokens: int = 256
    max_strength: float = 10_000.0


DEFAULT_LIMITS = Limits()


def check_count(what: str, n: int, limit: int, at_least: int = 1) -> None:
    """``n`` of ``what`` is within [at_least, limit]."""
    if n < at_least:
        raise UsageError(f"{what} is {n}; give at least {at_least}")
    if n > limit:
        raise UsageError(f"{what} is {n:,}; the limit is {limit:,}")


def check_finite(what: str, value: float, lo: float | None = None, hi: float | None = None) -> float:
    """``value`` is a finite number within [lo, hi]; return it as a float."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise UsageError(f"{what} must be a number; got {value!r}") from None
    if not math.isfinite(number):
        raise UsageError(f"{what} is {number}; it must be a finite number")
    if (lo is not None and number < lo) or (hi is not None and number > hi):
        raise UsageError(f"{what} is {number:g}; it must be between {lo:g} and {hi:g}")
    return number


def check_feature(source: Source, index: int) -> int:
    """``index`` names a feature of ``source``; return it as an int."""
    if isinstance(index, bool) or not isinstance(index, int):
        raise UsageError(f"feature index must be an integer; got {index!r}")
    if not 0 <= index < source.n_features:
        raise UsageError(f"feature {index} is out of range for {source.source_id}, which has "
                         f"{source.n_features:,} features (0..{source.n_features - 1})")
    return index


def check_features(source: Source, indices: Sequence[int], limits: Limits) -> list[int]:
    check_count(f"the number of features of {source.source_id}", len(indices), limits.max_features)
    return [check_feature(source, i) for i in indices]


def check_positions(what: str, positions: Sequence[int], n_tokens: int) -> list[int]:
    """Token positions within a text of ``n_tokens`` tokens (BOS included), as given."""
    out = []
    for p in positions:
        if isinstance(p, bool) or not isinstance(p, int) or not 0 <= p < n_tokens:
            raise UsageError(f"{what} {p!r} is not a token position of this text, which has {n_tokens} "
                             f"tokens (positions 0..{n_tokens - 1}, 0 being the BOS token when there is one)")
        out.append(p)
    return out
