"""Weight-based views of features: logit effects and nearest neighbours (chunked, bounded memory)."""

from __future__ import annotations

import weakref
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import torch
from numba import njit
from torch import Tensor

from featurepedia.lm.model import LanguageModel
from featurepedia.sources.base import Source


def residual_directions(model: LanguageModel, source: Source) -> Tensor:
    """Each feature's decoder direction in the residual stream: [F, d_model]."""
    return model.to_residual(source.hook_name, source.decoder_directions())


def logit_chunk(model: LanguageModel, directions: Tensor, n: int, lens: LogitLens | None = None
                ) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """Top and bottom ``n`` tokens of a chunk of features' directions [c, d_model] through the unembedding.

    The values are exact logit effects (:func:`exact_logits`); the tokens are found by a bfloat16 screen of
    the whole vocabulary and an exact re-check of the few tokens the screen's error bound cannot rule out
    (:func:`screened_extremes`), which gives exactly the lists of the exact values over the whole vocabulary.

    Args:
        lens: the model's unembedding prepared once (:class:`LogitLens`), for a caller doing many chunks.
    Returns:
        (top_values [c, n], top_ids [c, n], bottom_values [c, n], bottom_ids [c, n]).
    """
    lens = lens if lens is not None else logit_lens(model)
    with torch.inference_mode():
        d = model.logit_lens(directions)[0]  # through the final norm's gain: [c, d_model] float32
    c, vocab = d.shape[0], lens.w_u.shape[0]
    n = min(n, vocab)
    top_v, bottom_v = np.empty((c, n), np.float32), np.empty((c, n), np.float32)
    top_i, bottom_i = np.empty((c, n), np.int64), np.empty((c, n), np.int64)
    if n and c:
        screen = (d.bfloat16() @ lens.w_bf16.T).view(torch.int16).numpy().view(np.uint16)  # bfloat16 bits
        d_np = d.numpy()
        d_norm = row_norms(d_np)
        if not lens.finite:  # an unembedding with inf or NaN: no bound holds, every value is computed
            d_norm[:] = np.inf
        slope, ratio, floor = screen_bound(d.shape[1], finite_abs_max(d_np), lens.w_abs_max)
        parts = max(1, min(torch.get_num_threads(), c // 16))  # rows split between threads (no GIL held)
        edges = [c * i // parts for i in range(parts + 1)]

        def search(i: int) -> None:
            r = slice(edges[i], edges[i + 1])
            screened_extremes(screen[r], d_np[r], lens.w_np, d_norm[r], lens.w_norm, slope, ratio, floor,
                              top_v[r], top_i[r], bottom_v[r], bottom_i[r])

        if parts == 1:
            search(0)
        else:
            others = [_pool(parts - 1).submit(search, i) for i in range(1, parts)]
            search(0)
            for job in others:
                job.result()
    return (torch.from_numpy(top_v), torch.from_numpy(top_i), torch.from_numpy(bottom_v),
            torch.from_numpy(bottom_i))


_LENSES: dict[int, tuple[weakref.ref[LanguageModel], LogitLens]] = {}  # by id(model), while it lives


def logit_lens(model: LanguageModel) -> LogitLens:
    """The model's :class:`LogitLens`, made once per model (the sources of a pass share it; it is dropped
    with the model)."""
    held = _LENSES.get(id(model))
    if held is not None and held[0]() is model:
        return held[1]
    lens = LogitLens(model)
    key = id(model)

    def forget(_: object) -> None:
        _LENSES.pop(key, None)

    _LENSES[key] = (weakref.ref(model, forget), lens)
    return lens


_POOLS: dict[int, ThreadPoolExecutor] = {}


def _pool(workers: int) -> ThreadPoolExecutor:
    """A lasting pool of helper threads for the screened search (a chunk's rows are split between them)."""
    if workers not in _POOLS:
        _POOLS[workers] = ThreadPoolExecutor(workers, thread_name_prefix="logit-lens")
    return _POOLS[workers]


class LogitLens:
    """The model's unembedding ready for :func:`logit_chunk`: float32 rows, a bfloat16 copy for the screen
    and each row's norm (made once per model, see :func:`logit_lens`, not per chunk)."""

    def __init__(self, model: LanguageModel) -> None:
        with torch.inference_mode():
            _, w_u = model.logit_lens(torch.zeros(1, model.d_model))
            self.w_u = w_u  # [vocab, d_model] float32, contiguous
            self.w_bf16 = w_u.bfloat16()
        self.w_np = self.w_u.numpy()
        self.w_norm = row_norms(self.w_np)
        self.finite = bool(np.isfinite(self.w_norm).all())
        self.w_abs_max = max((finite_abs_max(self.w_np[i:i + 4096]) for i in range(0, len(self.w_np), 4096)),
                             default=0.0)  # by blocks: no temporary the size of the unembedding



def row_norms(x: np.ndarray, block: int = 4096) -> np.ndarray:
    """Euclidean norm of each row of a float32 matrix, computed in float64 a block of rows at a time."""
    out = np.empty(x.shape[0], np.float64)
    for start in range(0, x.shape[0], block):
        part = x[start:start + block].astype(np.float64)
        out[start:start + block] = np.sqrt(np.einsum("ij,ij->i", part, part))
    return out


def finite_abs_max(x: np.ndarray) -> float:
    """The largest |entry| among the finite ones (rows with others are computed in full anyway)."""
    return float(np.abs(x[np.isfinite(x)]).max(initial=0.0))


# Unit roundoffs (round to nearest) of bfloat16 (8 significant bits) and float32 (24).
BF16_U = 2.0**-8
F32_U = 2.0**-24


def screen_bound(k: int, d_abs_max: float, w_abs_max: float) -> tuple[float, float, float]:
    """Coefficients of a rigorous bound on |screen - exact| for one entry: ``slope * |d| |w| + ratio * |s|
    + floor``, where |d| |w| are the two rows' Euclidean norms, s the screen's (bfloat16) value and exact the
    value :func:`exact_logits` gives.

    The screen is the product of the rows rounded to bfloat16 (each entry off by at most u |x|, u = 2^-8),
    summed in float32 in any order (the products of two bfloat16 are exact in float32; the sum is off by at
    most gamma_k = k u32 / (1 - k u32) times the sum of |products|), then rounded to bfloat16 (off by at
    most u |sum| <= u / (1 - u) |s|). By Cauchy-Schwarz the sum of |d_i w_i| is at most |d| |w|, so:

        |s - d.w| <= (2u + u^2 + gamma_k (1 + u)^2) |d| |w| + u / (1 - u) |s|

    The exact value is d.w summed in float64 (off by far less than 2^-40 |d| |w|) and rounded to float32
    (off by at most u32 |d| |w|): 2^-22 |d| |w| covers both. ``floor`` covers values flushed to zero (a
    kernel may treat subnormals as 0: an absolute error below (k + 1) 2^-126 per operand's largest entry).
    Every coefficient is widened by 2^-20 for the rounding of the bound's own float64 arithmetic.
    """
    u = BF16_U
    gamma = k * F32_U / (1 - k * F32_U)
    widen = 1 + 2.0**-20
    slope = (2 * u + u * u + gamma * (1 + u) ** 2 + 2.0**-22) * widen
    ratio = u / (1 - u) * widen
    floor = (k + 1) * 2.0**-124 * (1 + d_abs_max) * (1 + w_abs_max) * widen
    return slope, ratio, floor


@njit(nogil=True, cache=True, inline="always")
def _exact_dot(x: np.ndarray, y: np.ndarray) -> np.float32:
    """x . y (two float32 rows) summed in float64 in one fixed order (eight running sums, then a fixed
    tree), rounded to float32: the same value whichever other entries are computed with it (a BLAS kernel's
    order, hence its last bits, depends on the shapes it is given)."""
    k = x.shape[0]
    s0 = s1 = s2 = s3 = s4 = s5 = s6 = s7 = 0.0
    stop = k - k % 8
    for t in range(0, stop, 8):
        s0 += np.float64(x[t]) * np.float64(y[t])
        s1 += np.float64(x[t + 1]) * np.float64(y[t + 1])
        s2 += np.float64(x[t + 2]) * np.float64(y[t + 2])
        s3 += np.float64(x[t + 3]) * np.float64(y[t + 3])
        s4 += np.float64(x[t + 4]) * np.float64(y[t + 4])
        s5 += np.float64(x[t + 5]) * np.float64(y[t + 5])
        s6 += np.float64(x[t + 6]) * np.float64(y[t + 6])
        s7 += np.float64(x[t + 7]) * np.float64(y[t + 7])
    tail = 0.0
    for t in range(stop, k):
        tail += np.float64(x[t]) * np.float64(y[t])
    return np.float32(((s0 + s1) + (s2 + s3)) + ((s4 + s5) + (s6 + s7)) + tail)


@njit(nogil=True, cache=True)
def exact_logits(d: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Every exact logit effect, ``d @ w.T`` by :func:`_exact_dot`: [c, V] float32 (the reference the
    screened search equals; slow, for tests and checks)."""
    out = np.empty((d.shape[0], w.shape[0]), np.float32)
    for r in range(d.shape[0]):
        for j in range(w.shape[0]):
            out[r, j] = _exact_dot(d[r], w[j])
    return out


@njit(nogil=True, cache=True)
def screened_extremes(screen: np.ndarray, d: np.ndarray, w: np.ndarray, d_norm: np.ndarray, w_norm: np.ndarray,
                      slope: float, ratio: float, floor: float, top_v: np.ndarray, top_i: np.ndarray,
                      bottom_v: np.ndarray, bottom_i: np.ndarray) -> int:
    """What :func:`row_extremes` gives on ``exact_logits(d, w)``, computing only the exact values that the
    screen cannot rule out. Returns how many exact values were computed.

    ``screen`` [c, V] holds the bfloat16 bits (uint16) of the screened ``d @ w.T``; the error of each entry
    is at most ``slope * d_norm[r] * w_norm[j] + ratio * |s| + floor`` (:func:`screen_bound`), so each entry
    lies in [lo, hi] = s -/+ that. The n-th largest lo is a value that n entries reach at least: an entry
    whose hi is below it has n entries strictly above it and cannot be among the n largest, whatever the
    ties. Likewise for the n smallest with the n-th smallest hi. The others (the candidates) get their exact
    values, in column order, into the same insertion lists as row_extremes (so ties keep the lower index).
    A row whose screen or ``d_norm`` is not finite (NaN or inf in its direction or the unembedding) is computed
    exactly in full.

    The bound is evaluated in float32 (vectorised) with its coefficients widened by 2^-12: that covers the
    float32 roundings of e = slope |d| |w| + ratio |s| + floor and of s -/+ e (each off by at most 2^-24 of
    |s| + e, while the widening adds at least 2^-13 e >= 2^-21 |s| + 2^-13 floor).
    """
    c, width = screen.shape
    n = top_v.shape[1]
    widen = 1.0 + 2.0**-12
    w32 = (w_norm * widen).astype(np.float32)
    ratio32 = np.float32(ratio * widen)
    floor32 = np.float32(floor * widen)
    lows = np.empty(n, np.float32)
    highs = np.empty(n, np.float32)
    bits = np.empty(width, np.uint32)
    values = bits.view(np.float32)
    lo = np.empty(width, np.float32)
    hi = np.empty(width, np.float32)
    cand = np.empty(width, np.int64)
    computed = 0
    for r in range(c):
        scale = np.float32(slope * widen * d_norm[r] * widen)
        bad = 0  # screen entries that are inf or NaN (all exponent bits set)
        for j in range(width):
            b = np.uint32(screen[r, j]) << np.uint32(16)
            bits[j] = b
            bad += (b & np.uint32(0x7F800000)) == np.uint32(0x7F800000)
        finite = bad == 0 and scale < np.inf
        low_n, high_n = np.float32(np.inf), np.float32(-np.inf)  # a non-finite row: every column a candidate
        if finite:
            for j in range(width):
                v = values[j]
                e = scale * w32[j] + ratio32 * abs(v) + floor32
                lo[j] = v - e
                hi[j] = v + e
            lows[:] = -np.inf
            highs[:] = np.inf
            low_n, high_n = lows[n - 1], highs[n - 1]
            for j in range(width):  # the n-th largest lo and n-th smallest hi (an insertion is rare)
                a = lo[j]
                if a > low_n:
                    p = n - 1
                    while p > 0 and lows[p - 1] < a:
                        lows[p] = lows[p - 1]
                        p -= 1
                    lows[p] = a
                    low_n = lows[n - 1]
                b = hi[j]
                if b < high_n:
                    p = n - 1
                    while p > 0 and highs[p - 1] > b:
                        highs[p] = highs[p - 1]
                        p -= 1
                    highs[p] = b
                    high_n = highs[n - 1]
        above, below = low_n, high_n
        tv, ti, bv, bi = top_v[r], top_i[r], bottom_v[r], bottom_i[r]
        n_top = n_bottom = 0
        m = 0
        if finite:
            for j in range(width):  # branch-free: the candidates' columns, in order
                cand[m] = j
                m += (not hi[j] < above) | (not lo[j] > below)  # NaN: a candidate
        else:
            cand[:] = np.arange(width)
            m = width
        x = d[r]
        for q in range(m):
            j = cand[q]
            want_top, want_bottom = (not hi[j] < above, not lo[j] > below) if finite else (True, True)
            v = _exact_dot(x, w[j])
            computed += 1
            if want_top:
                up = v if v == v else -np.inf
                if n_top < n or up > tv[n - 1]:
                    p = n_top if n_top < n else n - 1
                    while p > 0 and tv[p - 1] < up:
                        tv[p] = tv[p - 1]
                        ti[p] = ti[p - 1]
                        p -= 1
                    tv[p] = up
                    ti[p] = j
                    n_top = min(n, n_top + 1)
            if want_bottom:
                down = v if v == v else np.inf
                if n_bottom < n or down < bv[n - 1]:
                    p = n_bottom if n_bottom < n else n - 1
                    while p > 0 and bv[p - 1] > down:
                        bv[p] = bv[p - 1]
                        bi[p] = bi[p - 1]
                        p -= 1
                    bv[p] = down
                    bi[p] = j
                    n_bottom = min(n, n_bottom + 1)
    return computed


@njit(nogil=True, cache=True)
def row_extremes(x: np.ndarray, top_v: np.ndarray, top_i: np.ndarray, bottom_v: np.ndarray,
                 bottom_i: np.ndarray) -> None:
    """The n largest (descending) and n smallest (ascending) values of each row of ``x: [c, V]`` with their
    column indices, n = top_v.shape[1] <= V. Of equal values the lower index comes first; NaN ranks last in
    both lists (as -inf among the largest, +inf among the smallest).

    One pass per row keeps both lists (after the first columns an insertion is rare), instead of two
    ``torch.topk`` calls, which on a [256, 49152] block cost several times more here: after the matmul they
    were most of the logit effects' time.
    """
    c, width = x.shape
    n = top_v.shape[1]
    for r in range(c):
        tv, ti, bv, bi = top_v[r], top_i[r], bottom_v[r], bottom_i[r]
        row = x[r]
        for col in range(n):  # the first n columns fill both lists, sorted by insertion
            v = row[col]
            up = v if v == v else -np.inf
            down = v if v == v else np.inf
            p = col
            while p > 0 and tv[p - 1] < up:
                tv[p] = tv[p - 1]
                ti[p] = ti[p - 1]
                p -= 1
            tv[p] = up
            ti[p] = col
            p = col
            while p > 0 and bv[p - 1] > down:
                bv[p] = bv[p - 1]
                bi[p] = bi[p - 1]
                p -= 1
            bv[p] = down
            bi[p] = col
        high = tv[n - 1]  # a value enters only strictly above the n-th largest (ties keep the lower index)
        low = bv[n - 1]
        for col in range(n, width):  # NaN compares false: it never enters
            v = row[col]
            if v > high:
                p = n - 1
                while p > 0 and tv[p - 1] < v:
                    tv[p] = tv[p - 1]
                    ti[p] = ti[p - 1]
                    p -= 1
                tv[p] = v
                ti[p] = col
                high = tv[n - 1]
            if v < low:
                p = n - 1
                while p > 0 and bv[p - 1] > v:
                    bv[p] = bv[p - 1]
                    bi[p] = bi[p - 1]
                    p -= 1
                bv[p] = v
                bi[p] = col
                low = bv[n - 1]


def neighbour_chunk(unit: Tensor, start: int, stop: int, n: int) -> tuple[Tensor, Tensor]:
    """The ``n`` most cosine-similar other features of features start..stop-1, given all unit directions.

    Returns:
        (cosines [c, n], indices [c, n]).
    """
    n = min(n, unit.shape[0] - 1)
    sims = unit[start:stop] @ unit.T  # [c, F]
    rows = torch.arange(sims.shape[0])
    sims[rows, rows + start] = float("-inf")  # a feature is not its own neighbour
    best = sims.topk(n, dim=1)
    return best.values, best.indices


@dataclass
class WeightViews:
    """Logit effects and neighbours of every feature: [F, n] tensors (small: n is about 10)."""

    top_values: Tensor
    top_ids: Tensor
    bottom_values: Tensor
    bottom_ids: Tensor
    near_cosines: Tensor
    near_ids: Tensor


def weight_view_chunks(model: LanguageModel, source: Source, n_logits: int, n_neighbours: int, chunk: int = 256
                       ) -> Iterator[WeightViews]:
    """Both views, ``chunk`` features at a time in index order (a run computes the next chunk on a thread
    while it builds the dashboards of this one). Memory: one [chunk, vocab] block at a time."""
    with torch.inference_mode():
        directions = residual_directions(model, source)
        unit = torch.nn.functional.normalize(directions.float(), dim=1)  # [F, d]
    lens = logit_lens(model)
    for start in range(0, directions.shape[0], chunk):
        stop = min(start + chunk, directions.shape[0])
        with torch.inference_mode():  # per chunk: a generator may be resumed on another thread
            effects = logit_chunk(model, directions[start:stop], n_logits, lens)
            near = neighbour_chunk(unit, start, stop, n_neighbours)
        yield WeightViews(*effects, *near)
