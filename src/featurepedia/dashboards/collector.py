"""All per-feature accumulators of one dashboards pass, updated batch by batch."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import torch
from torch import Tensor

from featurepedia.dashboards import kernels
from featurepedia.dashboards.accumulators import NEG_INF, Extremes, Histogram, TopContexts, top_slots
from featurepedia.dashboards.config import RunConfig
from featurepedia.dashboards.density import activity_threshold


class Collector:
    """Top contexts, quantile sample, non-activating sample, histogram and extremes of one source's features.

    Nothing here depends on the order contexts come in, so collectors of disjoint shards of the corpus
    ``merge`` into exactly the collector of the whole corpus (what a sharded build relies on):

    - a context's sampling key per feature is a hash of (seed, global context id, feature)
      (:func:`kernels.random_keys`), not of where it was read;
    - top-k ranks break ties by the lower context id;
    - the samples are the contexts with the highest keys among a set that is a fixed function of the
      contexts: each context falls in a fixed *band* of its max activation (bands [b^i, b^(i+1)) with
      b = 1 / active_fraction), and the feature keeps the top keys of two bands, the band of its max so far
      ("upper") and the one below ("lower"), plus the top keys of every band below those and of contexts
      whose max is <= 0 ("dead"). The final activity threshold (active_fraction x the final max) lies in the
      final lower band, so every active context is in the upper or lower band and every context below it
      in the lower or a dead band. When the max moves up a band, the bands shift down and a band that dies
      is merged into the dead keys exactly (top k of top k).

    Finishing (``sample`` and ``negative``, made by ``settle``) takes the quantile sample as the top
    quantile-sample keys among the upper and lower bands' contexts that are active at the final threshold
    and not among the top contexts, and the non-activating sample as the top keys among the dead ones and
    the two bands' contexts at or below the threshold. For non-negative sources (threshold 0) there is one
    band, every context whose max is > 0.
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
        self.sample_size = config.quantile_bins * config.per_bin * 2
        self.edges = band_edges(0.0 if nonnegative else config.active_fraction)
        self.top = TopContexts(n_features, config.top_k, ctx_len)
        self.upper = TopContexts(n_features, self.sample_size, ctx_len)
        self.lower = TopContexts(n_features, self.sample_size if len(self.edges) > 1 else 0, ctx_len)
        self.dead = TopContexts(n_features, config.n_negative, ctx_len)
        self.band = torch.full((n_features,), NO_BAND, dtype=torch.long)  # band of each feature's max so far
        self.hist = Histogram(n_features, config.hist_bins, signed=not nonnegative)
        self.extremes = Extremes(n_features)
        self.contexts_done = 0  # global id of the next context (a shard starts at its first one)
        self.batches_done = 0
        self.seed = np.uint64(config.contexts.seed % 2**64)
        self.feature_ids = np.arange(n_features, dtype=np.int64)
        # Token ids of the contexts some accumulator still holds (bounded by F x slots, pruned as they go),
        # so finishing never has to read the corpus again.
        self.kept: dict[int, list[int]] = {}
        self.parts = _feature_ranges(n_features, threads if threads is not None else torch.get_num_threads())
        self._pool: ThreadPoolExecutor | None = None
        self._settled: tuple[TopContexts, TopContexts] | None = None

    def threshold(self) -> Tensor:
        """Current activity threshold per feature: [F]."""
        return torch.from_numpy(activity_threshold(
            self.extremes.max.numpy(), self.nonnegative, self.config.active_fraction))

    def update(self, acts: Tensor, skip_first: bool, token_ids: Tensor | None = None) -> None:
        """Add one batch (its contexts are the next ones, from global id ``contexts_done`` on).

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
        self._settled = None
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
        self._shift_bands(self.extremes.max.numpy())
        first = self.contexts_done
        context_ids = np.arange(first, first + n_ctx, dtype=np.int64)
        keys = np.empty_like(ctx_max)  # [batch, F] sampling keys
        upper, lower, dead = np.empty_like(ctx_max), np.empty_like(ctx_max), np.empty_like(ctx_max)
        maxes = torch.from_numpy(ctx_max)
        band = self.band.numpy()
        used = np.zeros((len(self.parts), n_ctx), dtype=np.bool_)  # contexts that entered a slot, per part

        def accumulate(f0: int, f1: int, part: int) -> None:
            features = (f0, f1)
            kernels.random_keys(self.seed, context_ids, self.feature_ids[f0:f1], keys[:, f0:f1])
            kernels.sample_scores(ctx_max, keys, f0, f1, band, self.edges, upper, lower, dead)
            self.hist.count(acts, skip_first, features)
            self.top.update(maxes, acts, first, features, used[part])
            for acc, scores in ((self.upper, upper), (self.lower, lower), (self.dead, dead)):
                acc.update(torch.from_numpy(scores), acts, first, features, used[part])

        self._split(accumulate)
        if token_ids is not None:
            self._keep_tokens(token_ids, np.logical_or.reduce(used, axis=0))
        self.contexts_done += n_ctx
        self.batches_done += 1

    def _shift_bands(self, max_act: np.ndarray) -> None:
        """Move each feature's bands to the band of its max (``max_act``: [F]): a band that falls below the
        lower one is merged into the dead keys (bands only move up, as the max only rises)."""
        target = np.where(max_act > 0, np.searchsorted(self.edges, max_act.astype(np.float64), side="right") - 1,
                          NO_BAND).astype(np.int64)
        current = self.band.numpy()
        rising = np.flatnonzero(target > current)
        if not len(rising):
            return
        by_one = rising[target[rising] - current[rising] == 1]
        further = rising[target[rising] - current[rising] > 1]
        self.dead.merge_rows(rising, *self.lower.take_rows(rising))  # the lower band dies
        self.dead.merge_rows(further, *self.upper.take_rows(further))  # so does the upper one, 2+ bands up
        self.lower.clear_rows(rising)
        self.lower.merge_rows(by_one, *self.upper.take_rows(by_one))  # one up: the upper band becomes lower
        self.upper.clear_rows(rising)
        current[rising] = target[rising]

    def merge(self, other: Collector) -> None:
        """Take in the collector of other contexts (another shard of the same run): afterwards this holds
        exactly what one collector fed both would (``other`` is changed: its bands are shifted)."""
        if other.config.fingerprint() != self.config.fingerprint() or other.nonnegative != self.nonnegative:
            raise ValueError("cannot merge collectors of different runs (their configs differ)")
        self._settled = None
        other._settled = None
        self.extremes.merge(other.extremes)
        self.hist.merge(other.hist)
        self.top.merge(other.top)
        max_act = self.extremes.max.numpy()
        self._shift_bands(max_act)
        other._shift_bands(max_act)
        for mine, theirs in ((self.upper, other.upper), (self.lower, other.lower), (self.dead, other.dead)):
            mine.merge(theirs)
        self.kept.update(other.kept)
        self.contexts_done = max(self.contexts_done, other.contexts_done)
        self.batches_done += other.batches_done
        self._prune_kept()

    def settle(self) -> None:
        """Put the state in its canonical form (every accumulator's slots sorted, the tokens of contexts no
        accumulator holds dropped): afterwards it is the same whatever order the contexts came in. Finishing
        needs no settling: ``sample``, ``negative`` and the top contexts' ranks do not depend on slot order."""
        for acc in (self.top, self.upper, self.lower, self.dead):
            acc.settle()
        self._prune_kept()
        self._settled = None

    def _final_samples(self) -> tuple[TopContexts, TopContexts]:
        """The quantile and non-activating samples at the final threshold (see the class notes), made once
        (until the next update)."""
        if self._settled is not None:
            return self._settled
        threshold = self.threshold().numpy()[:, None]  # [F, 1]
        top_ids = self.top.context_ids.numpy()
        pool, below = [], [self.dead.slots()]
        for band in (self.upper, self.lower):
            keys, ids, values, rows = band.slots()
            # A context's max as finishing sees it: over its stored values (BOS stored as 0).
            maxes = np.zeros(ids.shape, np.float32)
            if band.k:
                kernels.slot_maxes(values, maxes)
            among_top = (ids[:, :, None] == top_ids[:, None, :]).any(axis=2)
            active = (ids >= 0) & (maxes > threshold)
            pool.append((np.where(active & ~among_top, keys, np.float32(NEG_INF)), ids, values, rows))
            below.append((np.where((ids >= 0) & ~active, keys, np.float32(NEG_INF)), ids, values, rows))
        sample = TopContexts.of(*top_slots(pool, self.sample_size))
        negative = TopContexts.of(*top_slots(below, self.dead.k))
        self._settled = (sample, negative)
        return self._settled

    @property
    def sample(self) -> TopContexts:
        """The quantile sample at the final threshold (see the class notes), sorted by key."""
        return self._final_samples()[0]

    @property
    def negative(self) -> TopContexts:
        """The non-activating sample at the final threshold (see the class notes), sorted by key."""
        return self._final_samples()[1]

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
        return torch.cat([acc.context_ids.flatten() for acc in (self.top, self.upper, self.lower, self.dead)]
                         ).unique()

    def _keep_tokens(self, token_ids: Tensor, used: np.ndarray) -> None:
        first = self.contexts_done
        for b in np.flatnonzero(used).tolist():
            self.kept[first + b] = token_ids[b].tolist()
        if self.batches_done % 16 == 15:
            self._prune_kept()

    def _prune_kept(self) -> None:
        live = set(self._held().tolist())
        self.kept = {c: ids for c, ids in sorted(self.kept.items()) if c in live}

    def _accumulators(self) -> dict[str, TopContexts | Histogram | Extremes]:
        return {"top": self.top, "upper": self.upper, "lower": self.lower, "dead": self.dead, "hist": self.hist,
                "extremes": self.extremes}

    def state_dict(self) -> dict[str, Tensor]:
        """Everything a resumed run needs, as named tensors (what a checkpoint stores)."""
        state = {f"{name}.{key}": t for name, acc in self._accumulators().items()
                 for key, t in acc.state_dict().items()}
        contexts = sorted(self.kept)
        state["kept.contexts"] = torch.tensor(contexts, dtype=torch.long)  # [n]
        state["kept.token_ids"] = (torch.tensor([self.kept[c] for c in contexts], dtype=torch.long) if contexts
                                   else torch.zeros((0, 0), dtype=torch.long))  # [n, T]
        state["band"] = self.band
        state["contexts_done"] = torch.tensor(self.contexts_done)
        state["batches_done"] = torch.tensor(self.batches_done)
        return state

    def load_state_dict(self, state: Mapping[str, Tensor]) -> None:
        self._settled = None
        for name, acc in self._accumulators().items():
            acc.load_state_dict({key: state[f"{name}.{key}"] for key in acc.state_dict()})
        self.band = state["band"]
        self.contexts_done = int(state["contexts_done"])
        self.batches_done = int(state["batches_done"])
        self.kept = dict(zip(state["kept.contexts"].tolist(), state["kept.token_ids"].tolist(), strict=True))


NO_BAND = -(2**62)  # the band of a feature whose max is <= 0 so far (below every real band)


def band_edges(active_fraction: float) -> np.ndarray:
    """Ascending float64 edges of the bands of context maxima: the powers of 1 / active_fraction that span
    the positive float32 range, so the final threshold (active_fraction x the max) lies in the band just
    below the max's. One edge (1 band: every max > 0) when the fraction is not in (0, 1) or for a
    non-negative source (threshold 0). Made by repeated multiplication, which IEEE arithmetic rounds the
    same way everywhere, so every process of a sharded build gets the same bands."""
    if not 0 < active_fraction < 1:
        return np.array([0.0])
    base = 1.0 / active_fraction
    low, high = float(np.finfo(np.float32).smallest_subnormal), float(np.finfo(np.float32).max)
    edges = [1.0]
    while edges[-1] <= high:
        edges.append(edges[-1] * base)
    below = [1.0]
    while below[-1] > low:
        below.append(below[-1] / base)
    return np.array(below[:0:-1] + edges)


def _feature_ranges(n_features: int, parts: int) -> list[tuple[int, int]]:
    """``parts`` contiguous feature ranges of near-equal size, split at multiples of 16 (whole cache lines
    of float32 per row, so threads never write the same line)."""
    blocks = -(-n_features // 16)
    parts = max(1, min(parts, blocks))
    edges = [min(n_features, 16 * (blocks * i // parts)) for i in range(parts + 1)]
    return [(edges[i], edges[i + 1]) for i in range(parts)]
