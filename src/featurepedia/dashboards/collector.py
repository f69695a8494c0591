"""All per-feature accumulators of one dashboards pass, updated batch by batch."""

from __future__ import annotations

import torch
from torch import Tensor

from featurepedia.dashboards.accumulators import NEG_INF, Extremes, Histogram, TopContexts
from featurepedia.dashboards.config import RunConfig


class Collector:
    """Top contexts, quantile reservoir, non-activating reservoir, histogram and extremes.

    The quantile reservoir samples contexts uniformly among those that activate the feature (context max
    above the activity threshold known so far, which only rises; the final threshold filters again at the
    end). Sorting the sample by max activation and cutting it into equal groups gives examples from each
    activation quantile. The negative reservoir samples contexts whose max is at or below the threshold
    known so far — they stay below the final one too.
    """

    def __init__(self, config: RunConfig, n_features: int, nonnegative: bool) -> None:
        self.config = config
        self.nonnegative = nonnegative
        ctx_len = config.contexts.ctx_len
        self.top = TopContexts(n_features, config.top_k, ctx_len)
        self.sample = TopContexts(n_features, config.quantile_bins * config.per_bin * 2, ctx_len, torch.float16)
        self.negative = TopContexts(n_features, config.n_negative, ctx_len, torch.float16)
        self.hist = Histogram(n_features, config.hist_bins, signed=not nonnegative)
        self.extremes = Extremes(n_features)
        self.contexts_done = 0
        self.batches_done = 0
        # Token ids of the contexts some accumulator still holds (bounded by F x slots, pruned as they go),
        # so finishing never has to read the corpus again.
        self.kept: dict[int, list[int]] = {}

    def threshold(self) -> Tensor:
        """Current activity threshold per feature: [F]."""
        if self.nonnegative:
            return torch.zeros_like(self.extremes.max)
        return (self.config.active_fraction * self.extremes.max).clamp(min=0)

    def update(self, acts: Tensor, skip_first: bool, token_ids: Tensor | None = None) -> None:
        """Add one batch.

        Args:
            acts: [batch, T, F] feature activations; changed in place (the BOS position is zeroed).
            skip_first: the first position is a BOS token: it is stored as 0 and never counted.
            token_ids: [batch, T] the batch's tokens, kept for the contexts the accumulators keep.
        """
        if acts.dtype != torch.float32:
            acts = acts.float()
        if skip_first:
            acts[:, 0, :] = 0.0
        body = acts[:, 1:, :] if skip_first else acts  # [batch, T', F], a view
        # Per-context extremes first (reductions over contiguous [T', F] blocks are cheap); the batch's
        # extremes follow from them without another pass over all values.
        ctx_max = body.amax(dim=1)  # [batch, F]
        ctx_min = body.amin(dim=1)
        batch_max, batch_min = ctx_max.amax(dim=0), ctx_min.amin(dim=0)
        self.extremes.update_from(batch_max, batch_min, body.shape[0] * body.shape[1])
        # The histogram takes the whole batch (no copy); the zeroed BOS values are discounted.
        self.hist.update(acts, extremes=(batch_max, batch_min), zeros=acts.shape[0] if skip_first else 0)
        self.top.update(ctx_max, acts, self.contexts_done)
        gen = torch.Generator().manual_seed(self.config.contexts.seed * 1_000_003 + self.batches_done)
        keys = torch.rand(ctx_max.shape, generator=gen)  # [batch, F]
        active = ctx_max > self.threshold()
        self.sample.update(torch.where(active, keys, NEG_INF), acts, self.contexts_done)
        self.negative.update(torch.where(active, NEG_INF, keys), acts, self.contexts_done)
        if token_ids is not None:
            self._keep_tokens(token_ids)
        self.contexts_done += acts.shape[0]
        self.batches_done += 1

    def _held(self) -> Tensor:
        return torch.cat([acc.context_ids.flatten() for acc in (self.top, self.sample, self.negative)]).unique()

    def _keep_tokens(self, token_ids: Tensor) -> None:
        first = self.contexts_done  # contexts of this batch have ids >= first (none later exist yet)
        accs = (self.top, self.sample, self.negative)
        new = torch.cat([acc.context_ids[acc.context_ids >= first] for acc in accs]).unique()
        for ctx in new.tolist():
            self.kept[ctx] = token_ids[ctx - first].tolist()
        if self.batches_done % 16 == 15:
            live = set(self._held().tolist())
            self.kept = {c: ids for c, ids in self.kept.items() if c in live}

    def state_dict(self) -> dict[str, object]:
        return {
            "top": self.top.state_dict(), "sample": self.sample.state_dict(),
            "negative": self.negative.state_dict(), "hist": self.hist.state_dict(),
            "extremes": self.extremes.state_dict(), "contexts_done": self.contexts_done,
            "batches_done": self.batches_done, "kept": self.kept,
        }

    def load_state_dict(self, state: dict) -> None:
        self.top.load_state_dict(state["top"])
        self.sample.load_state_dict(state["sample"])
        self.negative.load_state_dict(state["negative"])
        self.hist.load_state_dict(state["hist"])
        self.extremes.load_state_dict(state["extremes"])
        self.contexts_done = int(state["contexts_done"])
        self.batches_done = int(state["batches_done"])
        self.kept = dict(state.get("kept", {}))
