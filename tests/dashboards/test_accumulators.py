"""The streaming accumulators equal simple brute-force references on random data."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from featurepedia.dashboards.accumulators import NEG_INF, Extremes, Histogram, TopContexts


def _batches(acts: torch.Tensor, size: int):
    for start in range(0, acts.shape[0], size):
        yield start, acts[start:start + size]


# --- references: the simple versions -----------------------------------------------------------------
def reference_top(acts: torch.Tensor, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Per feature: the k context indices with the largest max activation, and those maxes (sorted)."""
    maxes = acts.amax(dim=1).numpy()  # [N, F]
    order = np.argsort(-maxes, axis=0, kind="stable")[:k]  # [k, F]
    return order.T, np.take_along_axis(maxes, order, axis=0).T


def reference_hist(values: np.ndarray, half_range: float, n_bins: int, signed: bool) -> np.ndarray:
    lo = -half_range if signed else 0.0
    data = values if signed else values[values > 0]
    counts, _ = np.histogram(data, bins=n_bins, range=(lo, half_range))
    return counts


# --- tests -------------------------------------------------------------------------------------------
@pytest.mark.parametrize("batch_size", [1, 7, 64])
def test_top_contexts_match_brute_force(batch_size):
    gen = torch.Generator().manual_seed(1)
    acts = torch.randn(150, 9, 12, generator=gen)  # [N, T, F]
    k = 5
    acc = TopContexts(n_features=12, k=k, ctx_len=9)
    for start, batch in _batches(acts, batch_size):
        acc.update(batch.amax(dim=1), batch, start)
    want_ids, want_max = reference_top(acts, k)
    order = acc.scores.argsort(dim=1, descending=True)
    got_ids = acc.context_ids.gather(1, order).numpy()
    np.testing.assert_array_equal(got_ids, want_ids)
    np.testing.assert_allclose(acc.scores.gather(1, order).numpy(), want_max)
    # The stored per-token values are exactly the chosen contexts' activations.
    for f in range(12):
        for slot in range(k):
            ctx = int(acc.context_ids[f, slot])
            torch.testing.assert_close(acc.values[f, slot], acts[ctx, :, f])


@pytest.mark.parametrize("batch_size", [3, 16])
def test_top_contexts_with_ties_and_skipped_contexts_keep_the_best_scores(batch_size):
    """Coarse scores (many ties) with some contexts marked -inf: the kept scores are the k best allowed."""
    gen = torch.Generator().manual_seed(2)
    acts = torch.randint(0, 4, (90, 5, 7), generator=gen).float()  # [N, T, F], values 0..3
    scores = acts.amax(dim=1)
    scores[torch.rand(scores.shape, generator=gen) < 0.3] = NEG_INF
    k = 6
    acc = TopContexts(n_features=7, k=k, ctx_len=5)
    for start, batch in _batches(acts, batch_size):
        acc.update(scores[start:start + batch.shape[0]], batch, start)
    want = scores.T.sort(dim=1, descending=True).values[:, :k]
    got = acc.scores.sort(dim=1, descending=True).values
    torch.testing.assert_close(got, want)
    for f in range(7):
        for slot in range(k):
            ctx = int(acc.context_ids[f, slot])
            if ctx >= 0:
                assert float(scores[ctx, f]) == float(acc.scores[f, slot])
                torch.testing.assert_close(acc.values[f, slot], acts[ctx, :, f])
    assert len(set(acc.context_ids[0].tolist()) - {-1}) == int((acc.context_ids[0] >= 0).sum())  # no repeats


def test_top_contexts_never_keep_minus_infinity_scores():
    acts = torch.rand(10, 4, 3)
    acc = TopContexts(3, k=4, ctx_len=4)
    scores = torch.full((10, 3), NEG_INF)
    scores[2, 1] = 0.5
    acc.update(scores, acts, 0)
    assert (acc.context_ids[0] == -1).all()
    assert sorted(acc.context_ids[1].tolist()) == [-1, -1, -1, 2]  # one slot taken, the rest left empty
    assert (acc.context_ids[2] == -1).all()


def test_random_keys_give_uniform_reservoir():
    """Keeping the k largest uniform keys is uniform sampling: early and late contexts equally likely."""
    n, k, trials = 40, 4, 600
    hits = np.zeros(n)
    acts = torch.ones(n, 2, 1)
    for t in range(trials):
        gen = torch.Generator().manual_seed(t)
        acc = TopContexts(1, k=k, ctx_len=2)
        for start, batch in _batches(acts, 8):
            acc.update(torch.rand(batch.shape[0], 1, generator=gen), batch, start)
        hits[acc.context_ids[0].numpy()] += 1
    expected = trials * k / n
    assert abs(hits[: n // 2].sum() - hits[n // 2:].sum()) < 0.15 * trials * k
    assert hits.min() > 0.4 * expected and hits.max() < 1.8 * expected


@pytest.mark.parametrize("signed", [True, False])
def test_histogram_is_exact_while_its_range_grows(signed):
    rng = np.random.default_rng(0)
    n_bins, n_features = 64, 5
    # Dyadic values (multiples of 1/256) make every bin edge exact, so counts must match exactly.
    scales = [0.5, 2.0, 9.0, 40.0]  # later batches are larger: the range doubles several times
    batches = [np.round(rng.normal(0, s, size=(300, n_features)) * 256) / 256 for s in scales]
    hist = Histogram(n_features, n_bins=n_bins, signed=signed)
    for b in batches:
        hist.update(torch.tensor(b, dtype=torch.float32))
    everything = np.concatenate(batches)
    for f in range(n_features):
        h = float(hist.half_range[f])
        assert h >= np.abs(everything[:, f]).max()
        assert h == 2.0 ** np.ceil(np.log2(h))  # always a power of two
        np.testing.assert_array_equal(hist.counts[f].numpy(), reference_hist(everything[:, f], h, n_bins, signed))
        if not signed:
            assert int(hist.off[f]) == int((everything[:, f] <= 0).sum())


@pytest.mark.parametrize("signed", [True, False])
def test_histogram_skips_bos_positions(signed):
    """A batch passed whole with its BOS positions skipped counts exactly like the batch without them."""
    rng = np.random.default_rng(1)
    plain = Histogram(4, n_bins=16, signed=signed)
    with_bos = Histogram(4, n_bins=16, signed=signed)
    for scale in (0.3, 5.0):  # the second batch makes the range grow
        acts = torch.tensor(rng.normal(0, scale, size=(3, 10, 4)), dtype=torch.float32)  # [contexts, T, F]
        acts[:, 0, :] = 100.0  # would grow the range and fill the top bins if it were counted
        plain.update(acts[:, 1:, :].reshape(-1, 4))
        with_bos.update(acts, skip_first=True)
    assert torch.equal(with_bos.counts, plain.counts)
    assert torch.equal(with_bos.off, plain.off)
    assert torch.equal(with_bos.half_range, plain.half_range)
    assert int(plain.counts.sum() + plain.off.sum()) == 2 * 3 * 9 * 4


@pytest.mark.parametrize("signed", [True, False])
def test_histogram_counted_by_feature_ranges_equals_counted_whole(signed):
    """Threads count disjoint feature ranges of one prepared batch: together they equal one count."""
    rng = np.random.default_rng(3)
    whole = Histogram(37, n_bins=32, signed=signed)
    split = Histogram(37, n_bins=32, signed=signed)
    for scale in (0.5, 3.0):
        acts = torch.tensor(rng.normal(0, scale, size=(4, 6, 37)), dtype=torch.float32)
        whole.update(acts)
        split.prepare(acts.amax(dim=(0, 1)), acts.amin(dim=(0, 1)), acts.shape)
        for features in ((0, 16), (16, 32), (32, 37)):
            split.count(acts, skip_first=False, features=features)
    assert torch.equal(split.counts, whole.counts)
    assert torch.equal(split.off, whole.off)


def test_active_counts_interpolate_within_the_threshold_bin():
    from types import SimpleNamespace

    from featurepedia.dashboards.finalize import active_counts

    hist = Histogram(2, n_bins=8, signed=True)  # bins of width 0.25 over [-1, 1]
    values = torch.tensor([[-0.9, 0.1], [0.1, 0.3], [0.3, 0.6], [0.6, 0.9], [0.9, -0.2]])
    hist.update(values)
    assert hist.half_range.tolist() == [1.0, 1.0]
    collector = SimpleNamespace(hist=hist, extremes=None)
    got = active_counts(collector, torch.tensor([0.5, 0.125]), nonnegative=False)
    # Feature 0: 0.5 is a bin edge -> exactly the values above it (0.6, 0.9). Feature 1: 0.125 lies half-way
    # through bin [0, 0.25), which holds one value (0.1): half of it, plus 0.3, 0.6, 0.9.
    assert got.tolist() == pytest.approx([2.0, 3.5])


def test_extremes():
    values = torch.randn(100, 6)
    ext = Extremes(6)
    ext.update(values[:30])
    ext.update(values[30:])
    torch.testing.assert_close(ext.max, values.amax(0))
    torch.testing.assert_close(ext.min, values.amin(0))
    assert int(ext.n_tokens) == 100


def test_top_contexts_by_feature_ranges_touch_only_their_features_and_mark_used_contexts():
    gen = torch.Generator().manual_seed(4)
    acts = torch.randn(40, 6, 20, generator=gen)  # [N, T, F]
    whole, split = TopContexts(20, k=4, ctx_len=6), TopContexts(20, k=4, ctx_len=6)
    for start, batch in _batches(acts, 16):
        scores = batch.amax(dim=1)
        whole.update(scores, batch, start)
        before = split.scores[16:].clone()
        used = np.zeros(batch.shape[0], dtype=np.bool_)
        split.update(scores, batch, start, features=(0, 16), used=used)
        assert torch.equal(split.scores[16:], before)  # the other range is left alone
        split.update(scores, batch, start, features=(16, 20), used=used)
        held = {int(c) - start for c in split.context_ids.flatten() if c >= start}
        assert held <= set(np.flatnonzero(used).tolist())  # every context that entered a slot is marked
    assert torch.equal(split.scores, whole.scores)
    assert torch.equal(split.context_ids, whole.context_ids)
    assert torch.equal(split.values, whole.values)


@pytest.mark.parametrize("nonnegative", [False, True])
def test_collector_state_is_the_same_on_any_number_of_threads(nonnegative):
    """A batch's work is split between threads by features; the result must not depend on the split."""
    from featurepedia.corpus import ContextSpec
    from featurepedia.dashboards.collector import Collector
    from featurepedia.dashboards.config import RunConfig

    config = RunConfig(model="m", source="s", top_k=3, quantile_bins=2, per_bin=2, n_negative=2,
                       contexts=ContextSpec(ctx_len=8, seed=5))
    gen = torch.Generator().manual_seed(6)
    batches = [torch.randn(5, 8, 70, generator=gen) * (1 + i) for i in range(4)]
    if nonnegative:
        batches = [b.relu() for b in batches]
    ids = [torch.randint(0, 100, (5, 8), generator=gen) for _ in batches]
    states = []
    for threads in (1, 3):
        collector = Collector(config, 70, nonnegative, threads=threads)
        assert len(collector.parts) == threads
        for acts, tokens in zip(batches, ids, strict=True):
            collector.update(acts.clone(), skip_first=True, token_ids=tokens)
        collector.close()
        states.append((collector.state_dict(), collector.kept))
    (one, kept), (three, kept_three) = states
    assert one.keys() == three.keys()
    for name, value in one.items():
        assert torch.equal(value, three[name]), name
    assert kept == kept_three and kept
    held = {int(c) for acc in ("top", "upper", "lower", "dead") for c in one[f"{acc}.context_ids"].flatten()
            if c >= 0}
    assert held <= kept.keys()  # finishing finds every held context's tokens


def test_a_collector_state_round_trips_through_a_checkpoint(tmp_path):
    from featurepedia.corpus import ContextSpec
    from featurepedia.dashboards.checkpoint import load_checkpoint, save_checkpoint
    from featurepedia.dashboards.collector import Collector
    from featurepedia.dashboards.config import RunConfig

    config = RunConfig(model="m", source="s", top_k=3, quantile_bins=2, per_bin=2, n_negative=2,
                       contexts=ContextSpec(ctx_len=8, seed=5))
    gen = torch.Generator().manual_seed(7)
    collector = Collector(config, 20, False, threads=1)
    for _ in range(3):
        collector.update(torch.randn(5, 8, 20, generator=gen), skip_first=True,
                         token_ids=torch.randint(0, 100, (5, 8), generator=gen))
    save_checkpoint(tmp_path, "abc", collector.state_dict())
    assert load_checkpoint(tmp_path, "another config") is None
    resumed = Collector(config, 20, False, threads=1)
    resumed.load_state_dict(load_checkpoint(tmp_path, "abc"))
    assert resumed.kept == collector.kept and resumed.contexts_done == 15 and resumed.batches_done == 3
    for name, value in collector.state_dict().items():
        loaded = resumed.state_dict()[name]
        assert loaded.dtype == value.dtype and torch.equal(loaded, value), name
    resumed.update(torch.randn(5, 8, 20, generator=gen), skip_first=True)  # the kernels write the loaded arrays
    assert resumed.contexts_done == 20


def test_an_error_on_a_collector_helper_thread_is_raised_by_update(monkeypatch):
    from featurepedia.corpus import ContextSpec
    from featurepedia.dashboards import kernels
    from featurepedia.dashboards.collector import Collector
    from featurepedia.dashboards.config import RunConfig

    real = kernels.context_extremes

    def failing(acts, start, f0, f1, ctx_max, ctx_min):
        if f0 > 0:  # only the part that runs on the helper thread
            raise MemoryError("helper part failed")
        return real(acts, start, f0, f1, ctx_max, ctx_min)

    monkeypatch.setattr(kernels, "context_extremes", failing)
    collector = Collector(RunConfig(model="m", source="s", contexts=ContextSpec(ctx_len=4)), 40, False, threads=2)
    with pytest.raises(MemoryError, match="helper part"):
        collector.update(torch.randn(2, 4, 40), skip_first=True)
    assert collector.batches_done == 0
    collector.close()


def test_accumulators_refuse_batches_of_the_wrong_shape_and_accept_no_slots():
    """The kernels have no bounds checks, so shapes are checked before them."""
    acc = TopContexts(4, k=2, ctx_len=5)
    with pytest.raises(ValueError, match=r"acts \[batch, 5, 4\]"):
        acc.update(torch.zeros(3, 4), torch.zeros(3, 6, 4), 0)  # contexts of 6 tokens for slots of 5
    with pytest.raises(ValueError, match="scores"):
        acc.update(torch.zeros(2, 4), torch.zeros(3, 5, 4), 0)
    with pytest.raises(ValueError, match="outside"):
        acc.update(torch.zeros(3, 4), torch.zeros(3, 5, 4), 0, features=(2, 9))
    assert TopContexts(4, k=0, ctx_len=5).update(torch.ones(3, 4), torch.ones(3, 5, 4), 0) == 0
    hist = Histogram(4, n_bins=8)
    acts = torch.ones(2, 5, 3)
    hist.prepare(torch.ones(4), torch.zeros(4), acts.shape)  # prepared for a batch of 3 features
    with pytest.raises(ValueError, match="histogram of 4"):
        hist.count(acts, skip_first=False)
