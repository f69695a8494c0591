"""All per-feature accumulators of one dashboards pass, updated batch by batch."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import torch
from torch import Tensor

from featurepedia.dashboards import kernels
from featurepedia.dashboards.accumulators import NEG_INF, Extremes, Histogram, TopContexts
from featurepedia.dashboards.config import RunConfig
from featurepedia.dashboards.density import activity_threshold


class Collector:
    """Top contexts, quantile reservoir, non-activating reservoir, histogram and extremes.

    The quantile reservoir samples contexts uniformly among those that activate the feature (context max
    above the activity threshold known so far, which only rises; the final threshold filters again at the
    end). Sorting the sample by max activation and cutting it into equal groups gives examples from each
    activation quantile. The negative reservoir samples contexts whose max is at or below the threshold
    known so far — they stay below the final one too.
    """

    def __init__(self, config: RunConfig, n_features: int, nonnegative: bool, threads: int | None = None) -> None:
        """
        Args:
            threads: how many threads share each batch's work, split by features (default: torch's
                intra-op thread count, as the forward pass uses).
        """
        self.config = config
        self.nonnegative = nonnegative
        ctx_len = config.contexts.ctx_len
        self.top = TopContexts(n_features, config.top_k, ctx_len)
        self.sample = TopContexts(n_features, config.quantile_bins * config.per_bin * 2, ctx_len)
        self.negative = TopContexts(n_features, config.n_negative, ctx_len)
        self.hist = Histogram(n_features, config.hist_bins, signed=not nonnegative)
        self.extremes = Extremes(n_features)
        self.contexts_done = 0
        self.batches_done = 0
        # Token ids of the contexts some accumulator still holds (bounded by F x slots, pruned as they go),
        # so finishing never has to read the corpus again.
        self.kept: dict[int, list[int]] = {}
        self.parts = _feature_ranges(n_features, threads if threads is not None else torch.get_num_threads())
        self._pool: ThreadPoolExecutor | None = None

    def threshold(self) -> Tensor:
        """Current activity threshold per feature: [F]."""
        return torch.from_numpy(activity_threshold(
            self.extremes.max.numpy(), self.nonnegative, self.config.active_fraction))

    def update(self, acts: Tensor, skip_first: bool, token_ids: Tensor | None = None) -> None:
        """Add one batch.

        Args:
            acts: [batch, T, F] feature activations; changed in place (the BOS position is zeroed).
            skip_first: the first position is a BOS token: it is stored as 0 and never counted.
            token_ids: [batch, T] the batch's tokens, kept for the contexts the accumulators keep.
        """
        acts = acts.to(torch.float32).contiguous()  # no copy for the usual float32 batch
        n_ctx, n_pos, n_features = acts.shape
        start = 1 if skip_first else 0
        if n_pos <= start:
            raise ValueError(f"contexts of {n_pos} position(s) hold no token to count after the BOS token")
        # Between the kernels only NumPy (single-threaded) works on whole batches: a torch op that size
        # wakes torch's OpenMP threads, which then spin on the cores the kernels' threads need.
        values = acts.numpy()
        if skip_first:
            values[:, 0, :] = 0.0
        ctx_max = np.empty((n_ctx, n_features), dtype=np.float32)  # [batch, F] over counted positions
        ctx_min = np.empty_like(ctx_max)
        self._split(lambda f0, f1, _: kernels.context_extremes(values, start, f0, f1, ctx_max, ctx_min))
        batch_max, batch_min = torch.from_numpy(ctx_max.max(axis=0)), torch.from_numpy(ctx_min.min(axis=0))
        self.extremes.update_from(batch_max, batch_min, n_ctx * (n_pos - start))
        self.hist.prepare(batch_max, batch_min, acts.shape)
        gen = torch.Generator().manual_seed(self.config.contexts.seed * 1_000_003 + self.batches_done)
        keys = torch.rand(ctx_max.shape, generator=gen).numpy()  # [batch, F]
        active = ctx_max > self.threshold().numpy()
        maxes = torch.from_numpy(ctx_max)
        sample_scores = torch.from_numpy(np.where(active, keys, np.float32(NEG_INF)))
        negative_scores = torch.from_numpy(np.where(active, np.float32(NEG_INF), keys))
        used = np.zeros((len(self.parts), n_ctx), dtype=np.bool_)  # contexts that entered a slot, per part
        first = self.contexts_done

        def accumulate(f0: int, f1: int, part: int) -> None:
            features = (f0, f1)
            self.hist.count(acts, skip_first, features)
            self.top.update(maxes, acts, first, features, used[part])
            self.sample.update(sample_scores, acts, first, features, used[part])
            self.negative.update(negative_scores, acts, first, features, used[part])

        self._split(accumulate)
        if token_ids is not None:
            self._keep_tokens(token_ids, np.logical_or.reduce(used, axis=0))
        self.contexts_done += n_ctx
        self.batches_done += 1

    def _split(self, work: Callable[[int, int, int], object]) -> None:
        """Run ``work(f0, f1, part)`` for each part's feature range: the first here, the others on threads
        (the kernels release the GIL); errors are raised here."""
        if len(self.parts) == 1:
            work(*self.parts[0], 0)
            return
        if self._pool is None:
            self._pool = ThreadPoolExecutor(len(self.parts) - 1, thread_name_prefix="collector")
        others = [self._pool.submit(work, f0, f1, i) for i, (f0, f1) in enumerate(self.parts) if i]
        try:
            work(*self.parts[0], 0)
        finally:
            for job in others:
                job.result()

    def close(self) -> None:
        """Stop the helper threads (a later update starts them again)."""
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None

    def _held(self) -> Tensor:
        return torch.cat([acc.context_ids.flatten() for acc in (self.top, self.sample, self.negative)]).unique()

    def _keep_tokens(self, token_ids: Tensor, used: np.ndarray) -> None:
        first = self.contexts_done
        for b in np.flatnonzero(used).tolist():
            self.kept[first + b] = token_ids[b].tolist()
        if self.batches_done % 16 == 15:
            live = set(self._held().tolist())
            self.kept = {c: ids for c, ids in self.kept.items() if c in live}

    def _accumulators(self) -> dict[str, TopContexts | Histogram | Extremes]:
        return {"top": self.top, "sample": self.sample, "negative": self.negative, "hist": self.hist,
                "extremes": self.extremes}

    def state_dict(self) -> dict[str, Tensor]:
        """Everything a resumed run needs, as named tensors (what a checkpoint stores)."""
        state = {f"{name}.{key}": t for name, acc in self._accumulators().items()
                 for key, t in acc.state_dict().items()}
        contexts = sorted(self.kept)
        state["kept.contexts"] = torch.tensor(contexts, dtype=torch.long)  # [n]
        state["kept.token_ids"] = (torch.tensor([self.kept[c] for c in contexts], dtype=torch.long) if contexts
                                   else torch.zeros((0, 0), dtype=torch.long))  # [n, T]
        state["contexts_done"] = torch.tensor(self.contexts_done)
        state["batches_done"] = torch.tensor(self.batches_done)
        return state

    def load_state_dict(self, state: Mapping[str, Tensor]) -> None:
        for name, acc in self._accumulators().items():
            acc.load_state_dict({key: state[f"{name}.{key}"] for key in acc.state_dict()})
        self.contexts_done = int(state["contexts_done"])
        self.batches_done = int(state["batches_done"])
        self.kept = dict(zip(state["kept.contexts"].tolist(), state["kept.token_ids"].tolist(), strict=True))


def _feature_ranges(n_features: int, parts: int) -> list[tuple[int, int]]:
    """``parts`` contiguous feature ranges of near-equal size, split at multiples of 16 (whole cache lines
    of float32 per row, so threads never write the same line)."""
    blocks = -(-n_features // 16)
    parts = max(1, min(parts, blocks))
    edges = [min(n_features, 16 * (blocks * i // parts)) for i in range(parts + 1)]
    return [(edges[i], edges[i + 1]) for i in range(parts)]
