"""The density rule: when a feature counts as active on a token.

One definition for the dashboards pass, its finishing, the run's description and the web's scoring. It
needs only NumPy, so the web can use it without loading torch.
"""

from __future__ import annotations

from typing import TypeVar

import numpy as np
from numpy.typing import NDArray

Max = TypeVar("Max", float, NDArray[np.float32], NDArray[np.float64])


def activity_threshold(max_act: Max, nonnegative: bool, active_fraction: float) -> Max:
    """The activation a feature must exceed to count as active: per feature, same shape as ``max_act``.

    Args:
        max_act: the feature's max activation (a number, or an array with one per feature).
        nonnegative: the source's activations are >= 0 and 0 means "off" (SAEs): active means > 0.
        active_fraction: for signed sources (neurons), active means above this fraction of the max
            (never below 0).
    """
    if isinstance(max_act, np.ndarray):
        if nonnegative:
            return np.zeros_like(max_act)
        return np.maximum(active_fraction * max_act, 0).astype(max_act.dtype, copy=False)
    return 0.0 if nonnegative else max(0.0, active_fraction * float(max_act))


def density_rule(nonnegative: bool, active_fraction: float) -> str:
    """The rule in words, as pages show it ("Active means ...")."""
    if nonnegative:
        return "activation > 0"
    return f"activation > {active_fraction} x the feature's max activation over the corpus"
