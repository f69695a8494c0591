"""Every accumulator is independent of the order contexts come in: shards of a corpus fed in any order, or
accumulated apart and merged, give exactly the state of one pass in order (and the samples equal a brute-force
reference of what they are defined to be)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from featurepedia.corpus import ContextSpec
from featurepedia.dashboards import kernels
from featurepedia.dashboards.accumulators import Extremes, Histogram, TopContexts
from featurepedia.dashboards.collector import Collector, band_edges
from featurepedia.dashboards.config import RunConfig

MASK = (1 << 64) - 1
GOLDEN = 0x9E3779B97F4A7C15


def _mix(z: int) -> int:
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK
    return z ^ (z >> 31)


def reference_key(seed: int, context: int, feature: int) -> float:
    """SplitMix64 of (seed, context, feature) in plain Python integers."""
    per_context = _mix(_mix((seed + GOLDEN) & MASK) ^ ((context * GOLDEN) & MASK))
    per_feature = _mix((feature * GOLDEN + GOLDEN) & MASK)
    return (_mix(per_context ^ per_feature) >> 40) / 2**24


def _shards(n: int, rng: np.random.Generator, n_shards: int) -> list[tuple[int, int]]:
    cuts = sorted(rng.choice(np.arange(1, n), size=n_shards - 1, replace=False).tolist())
    edges = [0, *cuts, n]
    return [(edges[i], edges[i + 1]) for i in range(n_shards)]


def _batches(a: int, b: int, size: int):
    for start in range(a, b, size):
        yield start, min(b, start + size)


def test_random_keys_are_a_hash_of_seed_context_and_feature():
    contexts, features = np.array([0, 1, 7, 10**9], dtype=np.int64), np.array([0, 3, 5], dtype=np.int64)
    out = np.empty((4, 3), dtype=np.float32)
    kernels.random_keys(np.uint64(11), contexts, features, out)
    want = [[reference_key(11, c, f) for f in features.tolist()] for c in contexts.tolist()]
    np.testing.assert_array_equal(out, np.array(want, dtype=np.float32))
    again = np.empty((1, 1), dtype=np.float32)  # one context and feature alone: the same key
    kernels.random_keys(np.uint64(11), contexts[2:3], features[1:2], again)
    assert again[0, 0] == out[2, 1]
    other = np.empty((4, 3), dtype=np.float32)
    kernels.random_keys(np.uint64(12), contexts, features, other)
    assert (other != out).mean() > 0.9  # another seed, other keys
    many = np.empty((2000, 4), dtype=np.float32)
    kernels.random_keys(np.uint64(0), np.arange(2000, dtype=np.int64), np.arange(4, dtype=np.int64), many)
    assert 0 <= many.min() and many.max() < 1 and abs(float(many.mean()) - 0.5) < 0.02


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_top_contexts_merged_from_shards_in_any_order_equal_one_pass(seed):
    rng = np.random.default_rng(seed)
    gen = torch.Generator().manual_seed(seed)
    n, k = 120, 6
    acts = torch.randint(0, 5, (n, 4, 9), generator=gen).float()  # coarse values: many ties
    scores = acts.amax(dim=1)
    whole = TopContexts(9, k, 4)
    for a, b in _batches(0, n, 16):
        whole.update(scores[a:b], acts[a:b], a)
    whole.settle()
    shards = _shards(n, rng, 5)
    merged = TopContexts(9, k, 4)
    for i in rng.permutation(len(shards)).tolist():  # each shard on its own, merged in a random order
        a, b = shards[i]
        part = TopContexts(9, k, 4)
        for c0, c1 in _batches(a, b, int(rng.integers(1, 9))):
            part.update(scores[c0:c1], acts[c0:c1], c0)
        merged.merge(part)
    merged.settle()
    streamed = TopContexts(9, k, 4)  # one accumulator fed the shards in a random order
    for i in rng.permutation(len(shards)).tolist():
        a, b = shards[i]
        streamed.update(scores[a:b], acts[a:b], a)
    streamed.settle()
    for other in (merged, streamed):
        for name, value in whole.state_dict().items():
            assert torch.equal(other.state_dict()[name], value), name
    # Ties go to the lower context id: the kept set is the first k of (score desc, id asc).
    for f in range(9):
        want = sorted(range(n), key=lambda c: (-float(scores[c, f]), c))[:k]
        assert whole.context_ids[f].tolist() == want


@pytest.mark.parametrize("signed", [True, False])
def test_histograms_merge_by_addition_whatever_ranges_the_shards_saw(signed):
    rng = np.random.default_rng(4)
    n_bins, n_features = 32, 6
    # Shards of very different scales: each grows its own range, the merge brings them to the largest.
    chunks = [rng.normal(0, s, size=(50, n_features)).astype(np.float32) for s in (0.01, 3.0, 0.4, 70.0, 1.0)]
    chunks[2][:, 0] = 0.0  # a feature that is all zeros in one shard
    chunks[4][0, 1] = 4.0  # a value that is exactly a power of two: H must lie above it
    whole = Histogram(n_features, n_bins, signed=signed)
    for c in chunks:
        whole.update(torch.from_numpy(c))
    merged = Histogram(n_features, n_bins, signed=signed)
    for i in rng.permutation(len(chunks)).tolist():
        part = Histogram(n_features, n_bins, signed=signed)
        part.update(torch.from_numpy(chunks[i]))
        merged.merge(part)
    reverse = Histogram(n_features, n_bins, signed=signed)
    for c in chunks[::-1]:
        reverse.update(torch.from_numpy(c))
    for other in (merged, reverse):
        assert torch.equal(other.half_range, whole.half_range)
        assert torch.equal(other.counts, whole.counts)
        assert torch.equal(other.off, whole.off)
    everything = np.concatenate(chunks)
    for f in range(n_features):  # and they are the counts of every value binned at the final range
        h = float(whole.half_range[f])
        reach = np.abs(everything[:, f]).max() if signed else everything[:, f].max()  # (0, H) covers positives
        assert h > reach and h == 2.0 ** np.round(np.log2(h))
        scale = n_bins / (2 * h if signed else h)
        bins = np.clip(np.floor(everything[:, f] * np.float32(scale)) + (n_bins // 2 if signed else 0), 0, n_bins - 1)
        kept = everything[:, f] > 0 if not signed else np.ones(len(everything), bool)
        np.testing.assert_array_equal(whole.counts[f].numpy(), np.bincount(bins[kept].astype(int), minlength=n_bins))


def test_extremes_merge():
    values = torch.randn(90, 5)
    whole, a, b = Extremes(5), Extremes(5), Extremes(5)
    whole.update(values)
    a.update(values[:40])
    b.update(values[40:])
    b.merge(a)
    assert torch.equal(b.max, whole.max) and torch.equal(b.min, whole.min) and int(b.n_tokens) == 90


def _config(seed: int = 3, **kw) -> RunConfig:
    defaults = dict(top_k=3, quantile_bins=2, per_bin=2, n_negative=3, hist_bins=16,
                    contexts=ContextSpec(ctx_len=6, seed=seed))
    defaults.update(kw)
    return RunConfig(model="m", source="s", **defaults)


def _data(nonnegative: bool, n: int, n_features: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Contexts whose scales vary a lot (so maxima cross several bands at different times in different
    orders), a silent feature, a feature negative everywhere and coarse values (ties)."""
    gen = torch.Generator().manual_seed(seed)
    scale = torch.exp(torch.randn(n, 1, n_features, generator=gen) * 2.5)
    acts = torch.randn(n, 6, n_features, generator=gen) * scale
    acts[:, :, 1] = -acts[:, :, 1].abs() - 0.1
    acts[:, :, 2] = torch.round(acts[:, :, 2])
    acts[:, :, 3] = 0.0
    if nonnegative:
        acts = acts.relu()
    return acts, torch.randint(0, 50, (n, 6), generator=gen)


def _feed(collector: Collector, acts: torch.Tensor, ids: torch.Tensor, a: int, b: int, size: int) -> None:
    collector.contexts_done = a
    for c0, c1 in _batches(a, b, size):
        collector.update(acts[c0:c1].clone(), skip_first=True, token_ids=ids[c0:c1])


def _settled_state(collector: Collector) -> dict:
    collector.settle()
    state = collector.state_dict()
    for name, acc in (("sample", collector.sample), ("negative", collector.negative)):
        state.update({f"{name}.{key}": t for key, t in acc.state_dict().items()})
    state.pop("batches_done")
    return state


@pytest.mark.parametrize("nonnegative", [False, True])
@pytest.mark.parametrize("seed", [0, 1])
def test_collectors_of_shards_in_any_order_equal_one_pass(nonnegative, seed):
    rng = np.random.default_rng(seed)
    n, n_features = 150, 20
    acts, ids = _data(nonnegative, n, n_features, seed)
    config = _config()
    whole = Collector(config, n_features, nonnegative, threads=1)
    _feed(whole, acts, ids, 0, n, 8)
    want = _settled_state(whole)
    shards = _shards(n, rng, 6)
    merged = Collector(config, n_features, nonnegative, threads=2)
    for i in rng.permutation(len(shards)).tolist():
        part = Collector(config, n_features, nonnegative, threads=int(rng.integers(1, 3)))
        _feed(part, acts, ids, *shards[i], int(rng.integers(1, 12)))
        part.close()
        merged.merge(part)
    streamed = Collector(config, n_features, nonnegative, threads=1)  # one collector, shards out of order
    for i in rng.permutation(len(shards)).tolist():
        _feed(streamed, acts, ids, *shards[i], 5)
    streamed.contexts_done = n
    for other in (merged, streamed):
        got = _settled_state(other)
        assert got.keys() == want.keys()
        for name, value in want.items():
            assert torch.equal(got[name], value), name
        assert other.kept == whole.kept
    merged.close()


def _top_keys(candidates: list[tuple[float, int]], k: int) -> list[int]:
    return [c for _, c in sorted(candidates, key=lambda kc: (-kc[0], kc[1]))[:k]]


@pytest.mark.parametrize("nonnegative", [False, True])
def test_samples_are_the_top_keys_of_their_bands(nonnegative):
    """Brute force over every context: the bands of the final max, their top keys, and the final samples."""
    n, n_features = 200, 12
    acts, ids = _data(nonnegative, n, n_features, 5)
    config = _config(seed=9)
    collector = Collector(config, n_features, nonnegative, threads=1)
    _feed(collector, acts, ids, 0, n, 7)
    counted = acts.clone()
    counted[:, 0, :] = 0.0
    m = counted[:, 1:, :].amax(dim=1).numpy()  # [N, F] each context's max
    stored_max = counted.amax(dim=1).numpy()  # as finishing sees it (BOS stored as 0)
    edges = band_edges(0.0 if nonnegative else config.active_fraction)
    r, n_neg = collector.sample_size, config.n_negative
    for f in range(n_features):
        keys = [reference_key(9, c, f) for c in range(n)]
        band = [int(np.searchsorted(edges, float(x), side="right") - 1) if x > 0 else None for x in m[:, f]]
        top_band = band[int(np.argmax(m[:, f]))] if m[:, f].max() > 0 else None
        upper = _top_keys([(keys[c], c) for c in range(n) if top_band is not None and band[c] == top_band], r)
        lower = _top_keys([(keys[c], c) for c in range(n) if top_band is not None and band[c] == top_band - 1],
                          collector.lower.k)
        dead = _top_keys([(keys[c], c) for c in range(n) if band[c] is None or band[c] < top_band - 1], n_neg)
        collector.settle()
        assert [c for c in collector.upper.context_ids[f].tolist() if c >= 0] == upper
        assert [c for c in collector.lower.context_ids[f].tolist() if c >= 0] == lower
        assert [c for c in collector.dead.context_ids[f].tolist() if c >= 0] == dead
        threshold = np.float32(0.0) if nonnegative else max(np.float32(0.0), np.float32(config.active_fraction) * m[:, f].max())
        top = set(collector.top.context_ids[f].tolist())
        pool = upper + lower
        sample = _top_keys([(keys[c], c) for c in pool if stored_max[c, f] > threshold and c not in top],
                           r)
        negative = _top_keys([(keys[c], c) for c in dead + [c for c in pool if stored_max[c, f] <= threshold]],
                             n_neg)
        assert [c for c in collector.sample.context_ids[f].tolist() if c >= 0] == sample
        assert [c for c in collector.negative.context_ids[f].tolist() if c >= 0] == negative
        for acc in (collector.sample, collector.negative):
            for slot, c in enumerate(acc.context_ids[f].tolist()):
                if c >= 0:
                    assert torch.equal(acc.values[f, slot], counted[c, :, f])


def test_collectors_of_other_runs_do_not_merge():
    a = Collector(_config(seed=1), 4, False, threads=1)
    with pytest.raises(ValueError, match="configs differ"):
        a.merge(Collector(_config(seed=2), 4, False, threads=1))
