"""Streaming per-feature accumulators: memory grows with features x k, never with the corpus.

All accumulators take a batch of feature activations ``acts: [batch, pos, n_features]`` (each context's
first position is skipped when it is a BOS token), do their per-batch work in the compiled kernels of
kernels.py, optionally for one range of features (threads split a batch that way), and keep their state
as plain tensors in ``state_dict`` so a run can be checkpointed and resumed exactly.

None of them depends on the order contexts come in: each can ``merge`` another built from other contexts
(a shard of the corpus), and the result equals one accumulator fed everything. After ``settle`` the state
itself is the same whatever the order (slots sorted), so two runs compare tensor by tensor.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import Tensor

from featurepedia.dashboards import kernels

NEG_INF = float("-inf")


class TopContexts:
    """The k contexts with the highest score per feature, with their per-token activations.

    Used twice: scores = a context's max activation (top examples), and scores = random keys
    (a uniform reservoir sample: keeping the k largest of i.i.d. uniform keys is reservoir sampling).
    Contexts rank by score, ties by lower context id, so the kept set is the top k of everything fed in
    whatever the order. Slots are not kept sorted while streaming (``settle`` sorts them); empty slots have
    score -inf and context id -1.
    """

    def __init__(self, n_features: int, k: int, ctx_len: int) -> None:
        self.k = k
        self.scores = torch.full((n_features, k), NEG_INF)  # [F, k]
        self.context_ids = torch.full((n_features, k), -1, dtype=torch.long)  # [F, k] global context index
        self.values = torch.zeros((n_features, k, ctx_len))  # [F, k, T]

    def update(self, scores: Tensor, acts: Tensor, first_context: int, features: tuple[int, int] | None = None,
               used: np.ndarray | None = None) -> int:
        """Merge a batch in: afterwards each feature holds the top k of its slots and the batch together
        (a context replaces the weakest slot only when it scores strictly higher; -inf never enters).

        Args:
            scores: [batch, F] score of each context for each feature (-inf = never keep).
            acts: [batch, T, F] per-token activations of the batch (float32).
            first_context: global index of the batch's first context.
            features: only this range [f0, f1) of features (the rest is left alone).
            used: [batch] bool array marked where a context entered a slot.
        Returns:
            The number of slots that changed.
        """
        f0, f1 = features if features is not None else (0, self.scores.shape[0])
        n_features, _, ctx_len = self.values.shape
        if acts.dim() != 3 or acts.shape[1:] != (ctx_len, n_features) or scores.shape != (acts.shape[0], n_features):
            raise ValueError(f"expected scores [batch, {n_features}] and acts [batch, {ctx_len}, {n_features}], got "
                             f"{tuple(scores.shape)} and {tuple(acts.shape)}")
        if not 0 <= f0 <= f1 <= n_features:
            raise ValueError(f"feature range {f0}-{f1} is outside 0-{n_features}")
        if self.k == 0:
            return 0
        if used is None:
            used = np.zeros(acts.shape[0], dtype=np.bool_)
        return int(kernels.top_merge(_f32(scores).numpy(), _f32(acts).numpy(), first_context, f0, f1, self.scores.numpy(),
                                     self.context_ids.numpy(), self.values.numpy(), used))

    @classmethod
    def of(cls, scores: np.ndarray, ids: np.ndarray, values: np.ndarray) -> TopContexts:
        """An accumulator holding these slots (as :func:`top_slots` returns them; not copied)."""
        acc = cls.__new__(cls)
        acc.k = scores.shape[1]
        acc.scores, acc.context_ids, acc.values = (torch.from_numpy(scores), torch.from_numpy(ids),
                                                   torch.from_numpy(values))
        return acc

    def merge(self, other: TopContexts) -> None:
        """Take in another accumulator's slots (of other contexts): afterwards this holds the top k of both."""
        if other.values.shape[0] != self.values.shape[0] or other.values.shape[2] != self.values.shape[2]:
            raise ValueError(f"cannot merge top contexts of shape {tuple(other.values.shape)} into "
                             f"{tuple(self.values.shape)}: features and context length must agree")
        self.merge_rows(np.arange(self.scores.shape[0]), other.scores.numpy(), other.context_ids.numpy(),
                        other.values.numpy())

    def merge_rows(self, rows: np.ndarray, scores: np.ndarray, ids: np.ndarray, values: np.ndarray) -> None:
        """Take candidate slots into features ``rows``: scores / ids [len(rows), n], values [len(rows), n, T]."""
        if not len(rows):
            return
        self._put(rows, *top_slots([self.slots(rows), (scores, ids, values, np.arange(len(rows)))], self.k))

    def take_rows(self, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Copies of the slots of features ``rows``: scores, ids, values."""
        return self.scores.numpy()[rows], self.context_ids.numpy()[rows], self.values.numpy()[rows]

    def clear_rows(self, rows: np.ndarray) -> None:
        """Empty the slots of features ``rows``."""
        self.scores.numpy()[rows] = NEG_INF
        self.context_ids.numpy()[rows] = -1
        self.values.numpy()[rows] = 0.0

    def settle(self) -> None:
        """Sort every feature's slots (highest score first, ties by lower context id, empty slots last), so
        the state is the same whatever order the contexts came in."""
        self._put(np.arange(self.scores.shape[0]), *top_slots([self.slots()], self.k))

    def slots(self, rows: np.ndarray | None = None) -> Slots:
        """The slots of features ``rows`` (default: all) as candidates for :func:`top_slots` (values in place)."""
        rows = np.arange(self.scores.shape[0]) if rows is None else rows
        return self.scores.numpy()[rows], self.context_ids.numpy()[rows], self.values.numpy(), rows

    def _put(self, rows: np.ndarray, scores: np.ndarray, ids: np.ndarray, values: np.ndarray) -> None:
        self.scores.numpy()[rows] = scores
        self.context_ids.numpy()[rows] = ids
        self.values.numpy()[rows] = values

    def state_dict(self) -> dict[str, Tensor]:
        return {"scores": self.scores, "context_ids": self.context_ids, "values": self.values}

    def load_state_dict(self, state: dict[str, Tensor]) -> None:
        self.scores, self.context_ids, self.values = state["scores"], state["context_ids"], state["values"]


Slots = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]  # scores [R, n], ids [R, n], values [V, n, T], rows [R]


def top_slots(parts: list[Slots], k: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per row, the k best candidates of several groups of slots, sorted: highest score first, ties by lower
    context id; a candidate with score -inf (or id -1) is no candidate, and the slots left over are empty
    (-inf, -1, zeros).

    Args:
        parts: groups of candidates; row r of a group is scores[r], ids[r] and values[rows[r]] (so values can
            be an accumulator's whole array, read in place: only the chosen slots are copied).
    Returns:
        scores [R, k] float32, ids [R, k] int64, values [R, k, T] float32 (new arrays).
    """
    scores = np.concatenate([part[0] for part in parts], axis=1)
    ids = np.concatenate([part[1] for part in parts], axis=1)
    n_rows, n = scores.shape
    valid = (ids >= 0) & (scores > NEG_INF)
    ranked = np.where(valid, scores, np.float32(NEG_INF))
    order = np.lexsort((np.where(valid, ids, np.iinfo(np.int64).max), -ranked), axis=1)[:, :k]  # [R, <=k]
    keep = np.take_along_axis(valid, order, axis=1)
    out_scores = np.full((n_rows, k), NEG_INF, dtype=np.float32)
    out_ids = np.full((n_rows, k), -1, dtype=np.int64)
    out_values = np.zeros((n_rows, k, parts[0][2].shape[2]), dtype=np.float32)
    width = order.shape[1]
    out_scores[:, :width] = np.where(keep, np.take_along_axis(ranked, order, axis=1), np.float32(NEG_INF))
    out_ids[:, :width] = np.where(keep, np.take_along_axis(ids, order, axis=1), -1)
    offset = 0
    for _, part_ids, values, rows in parts:
        size = part_ids.shape[1]
        r, j = np.nonzero(keep & (order >= offset) & (order < offset + size))
        kernels.gather_slots(np.ascontiguousarray(values, dtype=np.float32), rows[r].astype(np.int64),
                             (order[r, j] - offset).astype(np.int64), out_values, r.astype(np.int64),
                             j.astype(np.int64))
        offset += size
    return out_scores, out_ids, out_values


class Histogram:
    """A per-feature histogram whose range grows by powers of two, so it is exact under streaming.

    Signed features use bins over [-H, H); non-negative features use bins over (0, H) plus a count of
    tokens at or below zero ("off"). H is the smallest power of two above every |value| seen: when a value
    reaches H, H doubles (as often as needed) and adjacent bins merge in pairs. Old bin edges stay bin
    edges and a value's bin is computed exactly (kernels.histogram_add), so no count is ever split or
    guessed, and the counts equal those of a histogram made at the final H directly: they do not depend on
    the order values come in, and two histograms merge by addition.

    A batch is added in two steps so that the counting can be split between threads by features:
    ``prepare`` (grow the range to the batch's extremes) and ``count`` (for a range of features).
    ``update`` does both.
    """

    def __init__(self, n_features: int, n_bins: int = 256, signed: bool = True) -> None:
        if n_bins % 2 or not 2 <= n_bins <= 256:
            raise ValueError(f"n_bins must be even and between 2 and 256, got {n_bins}")
        self.n_bins = n_bins
        self.signed = signed
        self.half_range = torch.zeros(n_features)  # H per feature; 0 = not yet seen a value
        self.counts = torch.zeros((n_features, n_bins), dtype=torch.long)  # [F, n_bins]
        self.off = torch.zeros(n_features, dtype=torch.long)  # non-negative mode: tokens <= 0
        self._scale = np.zeros(0, dtype=np.float32)
        self._bins: np.ndarray | None = None  # uint8 scratch space, reused batch after batch

    @property
    def _offset(self) -> int:
        return self.n_bins // 2 if self.signed else 0

    def update(self, values: Tensor, skip_first: bool = False) -> None:
        """Add values: [N, F], or [contexts, T, F] with ``skip_first`` = leave out each context's first
        position (a BOS token)."""
        acts = _f32(values if values.dim() == 3 else values.reshape(1, -1, values.shape[-1]))
        body = acts[:, 1:, :] if skip_first else acts
        self.prepare(body.amax(dim=(0, 1)), body.amin(dim=(0, 1)), acts.shape)
        self.count(acts, skip_first)

    def prepare(self, high: Tensor, low: Tensor, shape: tuple[int, ...]) -> None:
        """Grow the range to take a batch of this shape ([contexts, T, F]) whose values per feature lie
        in [low, high] ([F] each)."""
        self._grow(torch.maximum(high, -low) if self.signed else high.clamp(min=0))
        # H = 0 (no value seen but zeros): any scale puts 0 in its bin, the offset.
        h = torch.where(self.half_range > 0, self.half_range.double(), torch.ones_like(self.half_range.double()))
        self._scale = (self.n_bins / (2 * h if self.signed else h)).numpy().astype(np.float32)  # powers of two
        if self._bins is None or self._bins.shape != tuple(shape):
            self._bins = np.empty(tuple(shape), dtype=np.uint8)

    def count(self, acts: Tensor, skip_first: bool, features: tuple[int, int] | None = None) -> None:
        """Count a prepared batch ``acts: [contexts, T, F]`` (float32 C-contiguous), only features
        [f0, f1) if given (threads may count disjoint ranges of the same batch at once)."""
        f0, f1 = features if features is not None else (0, acts.shape[2])
        values = acts.numpy()
        if self._bins is None or self._bins.shape != values.shape:
            raise ValueError(f"count() got a batch of shape {tuple(values.shape)}; prepare() it first")
        if values.shape[2] != self.counts.shape[0] or not 0 <= f0 <= f1 <= values.shape[2]:
            raise ValueError(f"a batch of {values.shape[2]} features (range {f0}-{f1}) for a histogram of "
                             f"{self.counts.shape[0]}")
        kernels.histogram_add(values, 1 if skip_first else 0, f0, f1, self._offset, self._scale, not self.signed,
                              self.counts.numpy(), self.off.numpy(), self._bins)

    def merge(self, other: Histogram) -> None:
        """Add another histogram's counts (of other values): both are brought to the larger H first."""
        if (other.counts.shape != self.counts.shape or other.signed != self.signed):
            raise ValueError(f"cannot merge a {'signed' if other.signed else 'non-negative'} histogram of "
                             f"{tuple(other.counts.shape)} into a {'signed' if self.signed else 'non-negative'} one "
                             f"of {tuple(self.counts.shape)}")
        target = torch.maximum(self.half_range, other.half_range)
        self.counts = _rescaled(self.counts, self.half_range, target, self._offset)
        self.counts += _rescaled(other.counts, other.half_range, target, self._offset)
        self.off += other.off
        self.half_range = target.clone()

    def _grow(self, absmax: Tensor) -> None:
        # The smallest power of two above absmax (frexp: absmax = m * 2^e with 0.5 <= m < 1), at least
        # MIN_HALF_RANGE so that bins / H stays a finite float32.
        _, exponent = torch.frexp(absmax.float())
        above = torch.where(absmax > 0, torch.pow(2.0, exponent.double()).clamp(min=MIN_HALF_RANGE).float(),
                            torch.zeros_like(self.half_range))
        target = torch.maximum(self.half_range, above)
        if torch.equal(target, self.half_range):
            return
        self.counts = _rescaled(self.counts, self.half_range, target, self._offset)
        self.half_range = target

    def state_dict(self) -> dict[str, Tensor]:
        return {"half_range": self.half_range, "counts": self.counts, "off": self.off}

    def load_state_dict(self, state: dict[str, Tensor]) -> None:
        self.half_range, self.counts, self.off = state["half_range"], state["counts"], state["off"]


MIN_HALF_RANGE = 2.0**-64


def _rescaled(counts: Tensor, half_range: Tensor, target: Tensor, offset: int) -> Tensor:
    """Counts made at ``half_range`` ([F], powers of two, 0 = only zeros seen) as they are at ``target``
    (>= half_range): adjacent bins merged in pairs once per doubling (a new copy when anything changes)."""
    grows = (half_range > 0) & (target > half_range)
    if not grows.any():
        return counts
    counts = counts.clone()
    n_bins = counts.shape[1]
    features = grows.nonzero().squeeze(1)
    doublings = torch.round(torch.log2(target[grows].double() / half_range[grows].double())).long()
    for d in doublings.unique().tolist():
        chosen = features[doublings == d]
        factor = 2 ** min(d, 62)  # past n_bins doublings every bin lands next to the offset anyway
        into = offset + torch.div(torch.arange(n_bins) - offset, factor, rounding_mode="floor")  # [n_bins]
        counts[chosen] = torch.zeros_like(counts[chosen]).index_add_(1, into, counts[chosen])
    return counts


def _f32(t: Tensor) -> Tensor:
    """The tensor as C-contiguous float32 (no copy when it already is): what the kernels take."""
    return t.to(torch.float32).contiguous()


class Extremes:
    """Running max and min activation and the number of tokens seen, per feature."""

    def __init__(self, n_features: int) -> None:
        self.max = torch.full((n_features,), NEG_INF)
        self.min = torch.full((n_features,), math.inf)
        self.n_tokens = torch.zeros((), dtype=torch.long)

    def update(self, values: Tensor) -> None:
        """Add values: [..., F]."""
        dims = tuple(range(values.dim() - 1))
        self.update_from(values.amax(dim=dims), values.amin(dim=dims), values[..., 0].numel())

    def update_from(self, batch_max: Tensor, batch_min: Tensor, n_tokens: int) -> None:
        """Add a batch summarised by its per-feature max and min [F] over ``n_tokens`` tokens."""
        self.max = torch.maximum(self.max, batch_max)
        self.min = torch.minimum(self.min, batch_min)
        self.n_tokens += n_tokens

    def merge(self, other: Extremes) -> None:
        """Take in another accumulator's extremes and token count (of other tokens)."""
        self.update_from(other.max, other.min, int(other.n_tokens))

    def state_dict(self) -> dict[str, Tensor]:
        return {"max": self.max, "min": self.min, "n_tokens": self.n_tokens}

    def load_state_dict(self, state: dict[str, Tensor]) -> None:
        self.max, self.min, self.n_tokens = state["max"], state["min"], state["n_tokens"]
