"""Streaming per-feature accumulators: memory grows with features x k, never with the corpus.

All accumulators take a batch of feature activations ``acts: [batch, pos, n_features]`` (each context's
first position is skipped when it is a BOS token), do their per-batch work in the compiled kernels of
kernels.py, optionally for one range of features (threads split a batch that way), and keep their state
as plain tensors in ``state_dict`` so a run can be checkpointed and resumed exactly.
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
    Slots are not kept sorted; empty slots have score -inf and context id -1.
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

    def state_dict(self) -> dict[str, Tensor]:
        return {"scores": self.scores, "context_ids": self.context_ids, "values": self.values}

    def load_state_dict(self, state: dict[str, Tensor]) -> None:
        self.scores, self.context_ids, self.values = state["scores"], state["context_ids"], state["values"]


class Histogram:
    """A per-feature histogram whose range grows by powers of two, so it is exact under streaming.

    Signed features use bins over [-H, H]; non-negative features use bins over (0, H] plus a count of
    tokens at or below zero ("off"). When a value exceeds H, H doubles (as often as needed) and adjacent
    bins merge in pairs: old bin edges stay bin edges, so no count is ever split or guessed.

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
        self._lo = self._scale = np.zeros(0, dtype=np.float32)
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
        h = self.half_range.clamp(min=1e-30)
        lo = -h if self.signed else torch.zeros_like(h)
        self._lo = lo.numpy().astype(np.float32)
        self._scale = (self.n_bins / (h - lo)).numpy().astype(np.float32)
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
        kernels.histogram_add(values, 1 if skip_first else 0, f0, f1, self._lo, self._scale, not self.signed,
                              self.counts.numpy(), self.off.numpy(), self._bins)

    def _grow(self, absmax: Tensor) -> None:
        fresh = (self.half_range == 0) & (absmax > 0)
        if fresh.any():
            self.half_range[fresh] = 2.0 ** torch.ceil(torch.log2(absmax[fresh].double())).float()
        needs = (self.half_range > 0) & (absmax > self.half_range)
        if not needs.any():
            return
        doublings = torch.ceil(torch.log2(absmax[needs].double() / self.half_range[needs].double())).long()
        features = needs.nonzero().squeeze(1)
        for d in doublings.unique().tolist():
            chosen = features[doublings == d]
            factor = 2**d
            old = self.counts[chosen]  # [c, n_bins]
            target = (self._offset * (factor - 1) + torch.arange(self.n_bins)) // factor  # [n_bins]
            merged = torch.zeros_like(old).index_add_(1, target, old)
            self.counts[chosen] = merged
            self.half_range[chosen] *= factor

    def state_dict(self) -> dict[str, Tensor]:
        return {"half_range": self.half_range, "counts": self.counts, "off": self.off}

    def load_state_dict(self, state: dict[str, Tensor]) -> None:
        self.half_range, self.counts, self.off = state["half_range"], state["counts"], state["off"]


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

    def state_dict(self) -> dict[str, Tensor]:
        return {"max": self.max, "min": self.min, "n_tokens": self.n_tokens}

    def load_state_dict(self, state: dict[str, Tensor]) -> None:
        self.max, self.min, self.n_tokens = state["max"], state["min"], state["n_tokens"]
