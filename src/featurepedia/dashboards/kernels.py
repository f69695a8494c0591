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
def histogram_add(acts: Array, start: int, f0: int, f1: int, offset: int, scale: Array, nonnegative: bool,
                  counts: Array, off: Array, bins: Array) -> None:
    """Add acts[:, start:, f0:f1] to counts[f0:f1] (int64 [F, n_bins]).

    A value v of feature f falls in bin clamp(floor(v * scale[f]) + offset, 0, n_bins - 1), in float32.
    ``scale`` is a power of two (bins / range), so v * scale is exact and a value's bin at a range twice as
    wide is exactly its bin here merged in pairs: counts never depend on when the range grew. In
    non-negative mode values <= 0 are counted in ``off`` instead. ``bins`` is uint8 scratch space the shape
    of ``acts``: bin numbers are computed row by row (vectorised), then counted a block of features at a time.
    """
    # Loops run over slices from index 0 (not over range(f0, f1) of whole rows): that form vectorises.
    n_ctx, n_pos, _ = acts.shape
    n_bins = counts.shape[1]
    top = np.float32(n_bins - 1)
    zero = np.float32(0.0)
    shift = np.float32(offset)
    width = f1 - f0
    scale_f = scale[f0:f1]
    for b in range(n_ctx):
        for t in range(start, n_pos):
            row = acts[b, t, f0:f1]
            out = bins[b, t, f0:f1]
            for f in range(width):
                out[f] = np.uint8(min(max(np.floor(row[f] * scale_f[f]) + shift, zero), top))
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
def _weakest(scores: Array, ids: Array) -> int:
    """Index of the weakest slot: the lowest score, and among equal scores the highest context id (an empty
    slot, score -inf, is weakest of all)."""
    j = 0
    for s in range(1, scores.shape[0]):
        if scores[s] < scores[j] or (scores[s] == scores[j] and ids[s] > ids[j]):
            j = s
    return j


@njit(nogil=True, cache=True)
def _beats(score: float, context: int, floor: float, floor_id: int) -> bool:
    """Whether a context ranks above a slot: a higher score, or the same score and a lower context id.
    -inf never ranks (it means "never keep"), nor does NaN."""
    return score > floor or (score == floor and context < floor_id and score > -np.inf)


@njit(nogil=True, cache=True)
def top_merge(scores: Array, acts: Array, first_context: int, f0: int, f1: int, slot_scores: Array,
              slot_ids: Array, slot_values: Array, used: Array) -> int:
    """Keep, per feature in [f0, f1), the k highest-ranked contexts of its slots and this batch.

    Contexts rank by score, and among equal scores the lower context id first, so the result is the top k
    of slots and batch together whatever order contexts come in (a -inf score never enters). A replacement
    copies the context's per-token values into the slot and marks ``used[b]``.

    Args:
        scores: [batch, F] float32 score of each context for each feature.
        acts: [batch, T, F] float32 activations.
        first_context: global id of the batch's first context (context b has id first_context + b).
        slot_scores / slot_ids / slot_values: [F, k] float32, [F, k] int64, [F, k, T] float32 (updated).
        used: [batch] bool (set where a context entered some slot).
    Returns:
        The number of replacements.
    """
    n_ctx, n_pos, _ = acts.shape
    weakest = np.empty(f1 - f0, dtype=np.int64)
    for f in range(f0, f1):
        weakest[f - f0] = _weakest(slot_scores[f], slot_ids[f])
    changed = 0
    for b in range(n_ctx):
        row = scores[b]
        context = first_context + b
        for f in range(f0, f1):
            score = row[f]
            slot = weakest[f - f0]
            if _beats(score, context, slot_scores[f, slot], slot_ids[f, slot]):
                slot_scores[f, slot] = score
                slot_ids[f, slot] = context
                target = slot_values[f, slot]
                for t in range(n_pos):
                    target[t] = acts[b, t, f]
                used[b] = True
                changed += 1
                weakest[f - f0] = _weakest(slot_scores[f], slot_ids[f])
    return changed


GOLDEN = np.uint64(0x9E3779B97F4A7C15)


@njit(nogil=True, cache=True)
def _mix64(z: np.uint64) -> np.uint64:
    """SplitMix64's finaliser: a bijection of 64-bit integers whose output bits look independent."""
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


@njit(nogil=True, cache=True)
def random_keys(seed: np.uint64, context_ids: Array, features: Array, out: Array) -> None:
    """out[i, j] = the sampling key of context ``context_ids[i]`` for feature ``features[j]``: uniform in
    [0, 1) on a grid of 2^-24, a hash (SplitMix64) of (seed, global context id, feature) alone, so a
    context gets the same key whichever batch, shard or process reads it."""
    base = _mix64(seed + GOLDEN)
    scale = np.float32(2.0 ** -24)
    per_feature = np.empty(features.shape[0], dtype=np.uint64)
    for j in range(features.shape[0]):
        per_feature[j] = _mix64(np.uint64(features[j]) * GOLDEN + GOLDEN)
    for i in range(context_ids.shape[0]):
        per_context = _mix64(base ^ (np.uint64(context_ids[i]) * GOLDEN))
        row = out[i]
        for j in range(features.shape[0]):
            row[j] = np.float32(_mix64(per_context ^ per_feature[j]) >> np.uint64(40)) * scale


@njit(nogil=True, cache=True)
def sample_scores(ctx_max: Array, keys: Array, f0: int, f1: int, top_band: Array, edges: Array,
                  upper: Array, lower: Array, dead: Array) -> None:
    """Route each context's key, per feature in [f0, f1), to one of the sampling reservoirs (the others
    get -inf): ``upper`` when the context's max lies in the feature's top band (``top_band[f]``, the band
    of its max so far), ``lower`` in the band below it, ``dead`` below that or when the max is <= 0.

    Bands are fixed: band(m) = i where edges[i] <= m < edges[i + 1] (-1 below edges[0]), so a context's
    band never depends on what else was read.

    Args:
        ctx_max / keys: [batch, F] float32 each context's max and its sampling key.
        top_band: [F] int64.
        edges: ascending float64 band edges.
        upper / lower / dead: [batch, F] float32 (written for [f0, f1)).
    """
    n_ctx = ctx_max.shape[0]
    minus = np.float32(-np.inf)
    for b in range(n_ctx):
        for f in range(f0, f1):
            m = ctx_max[b, f]
            key = keys[b, f]
            upper[b, f] = minus
            lower[b, f] = minus
            dead[b, f] = minus
            if m > 0:
                band = np.searchsorted(edges, np.float64(m), side="right") - 1
                if band == top_band[f]:
                    upper[b, f] = key
                elif band == top_band[f] - 1:
                    lower[b, f] = key
                else:
                    dead[b, f] = key
            else:
                dead[b, f] = key


@njit(nogil=True, cache=True)
def gather_slots(values: Array, rows: Array, slots: Array, out: Array, out_rows: Array, out_slots: Array) -> None:
    """out[out_rows[i], out_slots[i]] = values[rows[i], slots[i]] for every i (rows of T float32 values)."""
    for i in range(rows.shape[0]):
        source = values[rows[i], slots[i]]
        target = out[out_rows[i], out_slots[i]]
        for t in range(source.shape[0]):
            target[t] = source[t]


@njit(nogil=True, cache=True)
def slot_maxes(values: Array, out: Array) -> None:
    """out[f, s] = max of values[f, s, :] ([F, k, T] float32 -> [F, k])."""
    n_features, k, n_pos = values.shape
    for f in range(n_features):
        for s in range(k):
            row = values[f, s]
            best = row[0]
            for t in range(1, n_pos):
                v = row[t]
                best = v if v > best else best
            out[f, s] = best
