"""Weight-based views of features: logit effects and nearest neighbours (chunked, bounded memory)."""

from __future__ import annotations

from collections.abc import Iterator
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


def logit_chunk(model: LanguageModel, directions: Tensor, n: int) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """Top and bottom ``n`` tokens of a chunk of features' directions [c, d_model] through the unembedding.

    Returns:
        (top_values [c, n], top_ids [c, n], bottom_values [c, n], bottom_ids [c, n]).
    """
    logits = model.logit_effects(directions).float().contiguous()  # [c, vocab]
    n = min(n, logits.shape[1])
    c = logits.shape[0]
    top_v, bottom_v = np.empty((c, n), np.float32), np.empty((c, n), np.float32)
    top_i, bottom_i = np.empty((c, n), np.int64), np.empty((c, n), np.int64)
    if n:
        row_extremes(logits.numpy(), top_v, top_i, bottom_v, bottom_i)
    return (torch.from_numpy(top_v), torch.from_numpy(top_i), torch.from_numpy(bottom_v),
            torch.from_numpy(bottom_i))


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
    for start in range(0, directions.shape[0], chunk):
        stop = min(start + chunk, directions.shape[0])
        with torch.inference_mode():  # per chunk: a generator may be resumed on another thread
            effects = logit_chunk(model, directions[start:stop], n_logits)
            near = neighbour_chunk(unit, start, stop, n_neighbours)
        yield WeightViews(*effects, *near)
