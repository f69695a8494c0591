"""Compiled per-batch kernels of the accumulators (numba; they release the GIL).

Every kernel works on a range of features ``[f0, f1)`` of a batch ``acts: [batch, T, F]`` (float32,
C-contiguous) and touches nothing outside it, so one batch can be split between threads by features
with no locking. Positions before ``start`` (a BOS token) are skipped.

The simple tensor versions these replace are kept in the tests as references; why compiled loops: each
accumulator becomes one pass over the batch instead of a chain of full-size tensor operations (and the
top-k merge copies a changed slot's values while its context is still in cache).
"""

from __future__ import annotations

import numpy as np
from numba import njit

Array = np.ndarray  # the kernels take NumPy arrays (shapes in each docstring); numba ignores annotations

HIST_BLOCK = 64  # features counted together: their bins' counters (64 x 256 int32) stay in the L2 cache


@njit(nogil=True, cache=True)
def context_extremes(acts: Array, start: int, f0: int, f1: int, ctx_max: Array, ctx_min: Array) -> None:
    """ctx_max[b, f] / ctx_min[b, f] = max / min of acts[b, start:, f] for f in [f0, f1)."""
    n_ctx, n_pos, _ = acts.shape
    width = f1 - f0
    for b in range(n_ctx):
        hi = ctx_max[b, f0:f1]
        lo = ctx_min[b, f0:f1]
        first = acts[b, start, f0:f1]
        for f in range(width):
            hi[f] = first[f]
            lo[f] = first[f]
        for t in range(start + 1, n_pos):
            row = acts[b, t, f0:f1]
            for f in range(width):  # written as selects: that form vectorises (max()/min() did not)
                v = row[f]
                high = hi[f]
                low = lo[f]
                hi[f] = v if v > high else high
                lo[f] = v if v < low else low


@njit(nogil=True, cache=True)
def histogram_add(acts: Array, start: int, f0: int, f1: int, lo: Array, scale: Array, nonnegative: bool,
                  counts: Array, off: Array, bins: Array) -> None:
    """Add acts[:, start:, f0:f1] to counts[f0:f1] (int64 [F, n_bins]).

    A value v of feature f falls in bin floor(clamp((v - lo[f]) * scale[f], 0, n_bins - 1)), in float32.
    In non-negative mode values <= 0 are counted in ``off`` instead. ``bins`` is uint8 scratch space the
    shape of ``acts``: bin numbers are computed row by row (vectorised), then counted a block of features
    at a time.
    """
    # Loops run over slices from index 0 (not over range(f0, f1) of whole rows): that form vectorises.
    n_ctx, n_pos, _ = acts.shape
    n_bins = counts.shape[1]
    top = np.float32(n_bins - 1)
    zero = np.float32(0.0)
    width = f1 - f0
    lo_f, scale_f = lo[f0:f1], scale[f0:f1]
    for b in range(n_ctx):
        for t in range(start, n_pos):
            row = acts[b, t, f0:f1]
            out = bins[b, t, f0:f1]
            for f in range(width):
                out[f] = np.uint8(min(max((row[f] - lo_f[f]) * scale_f[f], zero), top))
    local = np.zeros(HIST_BLOCK * n_bins, dtype=np.int32)
    for g0 in range(f0, f1, HIST_BLOCK):
        g1 = min(f1, g0 + HIST_BLOCK)
        local[:] = 0
        for b in range(n_ctx):
            for t in range(start, n_pos):
                row_bins = bins[b, t, g0:g1]
                for j in range(g1 - g0):
                    local[j * n_bins + row_bins[j]] += 1
        for j in range(g1 - g0):
            row_counts = counts[g0 + j]
            for i in range(n_bins):
                row_counts[i] += local[j * n_bins + i]
    if nonnegative:
        # Values <= 0 landed in bin 0 above, with the smallest positive ones: they move to "off".
        n_off = np.zeros(width, dtype=np.int64)
        for b in range(n_ctx):
            for t in range(start, n_pos):
                row = acts[b, t, f0:f1]
                for f in range(width):
                    n_off[f] += row[f] <= zero
        for f in range(width):
            off[f0 + f] += n_off[f]
            counts[f0 + f, 0] -= n_off[f]


@njit(nogil=True, cache=True)
def _weakest(scores: Array) -> int:
    """Index of the lowest score (the first one among equals)."""
    j = 0
    for s in range(1, scores.shape[0]):
        if scores[s] < scores[j]:
            j = s
    return j


@njit(nogil=True, cache=True)
def top_merge(scores: Array, acts: Array, first_context: int, f0: int, f1: int, slot_scores: Array,
              slot_ids: Array, slot_values: Array, used: Array) -> int:
    """Keep, per feature in [f0, f1), the k highest-scoring contexts of its slots and this batch.

    Contexts are taken in batch order; one replaces the feature's weakest slot when its score is strictly
    higher (so -inf never enters, and among equal scores the earlier context stays). The result is the top
    k of slots and batch together. A replacement copies the context's per-token values into the slot and
    marks ``used[b]``.

    Args:
        scores: [batch, F] float32 score of each context for each feature.
        acts: [batch, T, F] float32 activations.
        slot_scores / slot_ids / slot_values: [F, k] float32, [F, k] int64, [F, k, T] float32 (updated).
        used: [batch] bool (set where a context entered some slot).
    Returns:
        The number of replacements.
    """
    n_ctx, n_pos, _ = acts.shape
    weakest = np.empty(f1 - f0, dtype=np.int64)
    floor = np.empty(f1 - f0, dtype=np.float32)
    for f in range(f0, f1):
        j = _weakest(slot_scores[f])
        weakest[f - f0] = j
        floor[f - f0] = slot_scores[f, j]
    changed = 0
    for b in range(n_ctx):
        row = scores[b]
        for f in range(f0, f1):
            score = row[f]
            if score > floor[f - f0]:
                slot = weakest[f - f0]
                slot_scores[f, slot] = score
                slot_ids[f, slot] = first_context + b
                target = slot_values[f, slot]
                for t in range(n_pos):
                    target[t] = acts[b, t, f]
                used[b] = True
                changed += 1
                j = _weakest(slot_scores[f])
                weakest[f - f0] = j
                floor[f - f0] = slot_scores[f, j]
    return changed
