"""Logit effects and neighbours, chunk by chunk, against the whole matrices computed at once."""

from __future__ import annotations

import math
import threading

import numpy as np
import pytest
import torch

from featurepedia.dashboards.effects import (
    LogitLens,
    exact_logits,
    finite_abs_max,
    logit_chunk,
    residual_directions,
    row_extremes,
    row_norms,
    screen_bound,
    screened_extremes,
    weight_view_chunks,
)
from featurepedia.dashboards.runner import _prefetched
from featurepedia.sources import source_for


@pytest.mark.parametrize("chunk", [5, 7, 1000])
def test_weight_view_chunks_equal_the_whole_matrices(tiny_llama, chunk):
    source = source_for(tiny_llama, "1-mlp")
    parts = list(weight_view_chunks(tiny_llama, source, n_logits=4, n_neighbours=3, chunk=chunk))
    n = source.n_features
    assert [p.top_ids.shape[0] for p in parts] == [min(chunk, n - s) for s in range(0, n, chunk)]
    with torch.inference_mode():
        directions = residual_directions(tiny_llama, source)
        logits = tiny_llama.logit_effects(directions)  # [F, vocab], all at once
        unit = torch.nn.functional.normalize(directions, dim=1)
        sims = unit @ unit.T
        sims.fill_diagonal_(float("-inf"))
    top, bottom, near = logits.topk(4, dim=1), logits.topk(4, dim=1, largest=False), sims.topk(3, dim=1)
    torch.testing.assert_close(torch.cat([p.top_values for p in parts]), top.values)
    torch.testing.assert_close(torch.cat([p.bottom_values for p in parts]), bottom.values)
    torch.testing.assert_close(torch.cat([p.near_cosines for p in parts]), near.values)
    assert torch.equal(torch.cat([p.top_ids for p in parts]), top.indices)
    assert torch.equal(torch.cat([p.bottom_ids for p in parts]), bottom.indices)
    assert torch.equal(torch.cat([p.near_ids for p in parts]), near.indices)
    assert not (torch.cat([p.near_ids for p in parts]) == torch.arange(n)[:, None]).any()


def test_prefetched_keeps_order_runs_ahead_and_raises_the_producers_error():
    started = threading.Event()

    def produce():
        started.set()
        yield from range(5)
        raise RuntimeError("corpus file vanished")

    items = _prefetched(produce())
    assert started.wait(5), "the first item should be started before iteration"
    got = []
    with pytest.raises(RuntimeError, match="corpus file vanished"):
        for item in items:
            got.append(item)
    assert got == [0, 1, 2, 3, 4]


@pytest.mark.parametrize(("shape", "n"), [((6, 40), 5), ((4, 3), 3), ((2, 1000), 1)])
def test_row_extremes_equal_topk_with_ties_and_nan(shape, n):
    x = torch.randn(*shape, generator=torch.Generator().manual_seed(sum(shape)))
    x[:, -1] = x[:, 0]  # a tie: the lower index must come first
    x[0, 1] = float("nan")  # ranks last in both lists
    top_v, bottom_v = np.empty((shape[0], n), np.float32), np.empty((shape[0], n), np.float32)
    top_i, bottom_i = np.empty((shape[0], n), np.int64), np.empty((shape[0], n), np.int64)
    row_extremes(x.numpy(), top_v, top_i, bottom_v, bottom_i)
    for r in range(shape[0]):
        values = x[r].tolist()
        cols = range(len(values))
        up = sorted(cols, key=lambda j: (-(values[j] if values[j] == values[j] else -math.inf), j))[:n]
        down = sorted(cols, key=lambda j: ((values[j] if values[j] == values[j] else math.inf), j))[:n]
        assert top_i[r].tolist() == up and bottom_i[r].tolist() == down
        assert np.array_equal(top_v[r], np.nan_to_num(x[r].numpy()[up], nan=-np.inf))
        assert np.array_equal(bottom_v[r], np.nan_to_num(x[r].numpy()[down], nan=np.inf))


def _extremes(x: np.ndarray, n: int) -> list[np.ndarray]:
    out = [np.empty((x.shape[0], n), np.float32), np.empty((x.shape[0], n), np.int64),
           np.empty((x.shape[0], n), np.float32), np.empty((x.shape[0], n), np.int64)]
    row_extremes(np.ascontiguousarray(x, dtype=np.float32), *out)
    return out


def _screened(d: np.ndarray, w: np.ndarray, n: int, d_norm: np.ndarray | None = None
              ) -> tuple[list[np.ndarray], int]:
    screen = (torch.from_numpy(d).bfloat16() @ torch.from_numpy(w).bfloat16().T).view(torch.int16).numpy()
    slope, ratio, floor = screen_bound(d.shape[1], finite_abs_max(d), finite_abs_max(w))
    out = [np.empty((d.shape[0], n), np.float32), np.empty((d.shape[0], n), np.int64),
           np.empty((d.shape[0], n), np.float32), np.empty((d.shape[0], n), np.int64)]
    d_norm = row_norms(d) if d_norm is None else d_norm
    computed = screened_extremes(screen.view(np.uint16), d, w, d_norm, row_norms(w), slope, ratio, floor,
                                 *out)
    return out, computed


def _adversarial(seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Integer rows (every product and sum exact in float32, so any summation order gives the same value):
    effects near 1,000, which bfloat16 (8 significant bits) cannot tell apart, with exact ties (repeated
    unembedding rows, the later one at a higher token id) and near-ties (rows one unit apart)."""
    rng = np.random.default_rng(seed)
    k, vocab = 64, 3000
    d = rng.integers(-8, 9, size=(12, k)).astype(np.float32)
    d[:, 0] = 64  # every row leans on coordinate 0, which most tokens share
    w = rng.integers(-2, 3, size=(vocab, k)).astype(np.float32)
    w[:, 0] = 15
    w[rng.choice(vocab, 200, replace=False), 0] = 16  # ~1,000 + 64: the contest for the top
    w[rng.choice(vocab, 200, replace=False), 0] = 14
    for src, dst in rng.choice(vocab, size=(300, 2)):  # exact ties, in both index orders
        w[dst] = w[src]
    for src, dst in rng.choice(vocab, size=(300, 2)):  # near-ties: one unit off in one coordinate
        w[dst] = w[src]
        w[dst, rng.integers(1, k)] += rng.choice([-1, 1])
    d[3] = d[2]  # two features with the same direction
    d[5] = 0  # and a zero one: every token ties at 0
    return d, w


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("n", [1, 10])
def test_the_screened_search_equals_the_float32_lists_on_adversarial_near_ties(seed, n):
    d, w = _adversarial(seed)
    reference = _extremes((torch.from_numpy(d) @ torch.from_numpy(w).T).numpy(), n)  # exact: integers
    assert np.array_equal(exact_logits(d, w), (torch.from_numpy(d) @ torch.from_numpy(w).T).numpy())
    got, computed = _screened(d, w, n)
    for want, found in zip(reference, got, strict=True):
        assert np.array_equal(want, found)
    assert computed < d.shape[0] * w.shape[0]  # the screen did rule tokens out
    tops = (torch.from_numpy(d) @ torch.from_numpy(w).T).numpy()
    assert (np.sort(tops, axis=1)[:, -n - 1] == np.sort(tops, axis=1)[:, -n]).any(), "a tie at the cut"


def test_the_screened_search_equals_the_exact_lists_on_real_valued_rows_within_its_bound():
    rng = np.random.default_rng(7)
    d = (rng.standard_normal((40, 96)) * rng.uniform(0.01, 3, size=(40, 1))).astype(np.float32)
    w = (rng.standard_normal((5000, 96)) * 0.05).astype(np.float32)
    w[100] = w[99]  # an exact tie
    w[4000] = np.nextafter(w[99], np.float32(np.inf))  # within an ulp of it
    exact = exact_logits(d, w)
    reference = _extremes(exact, 10)
    got, computed = _screened(d, w, 10)
    for want, found in zip(reference, got, strict=True):
        assert np.array_equal(want, found)
    assert computed < 0.2 * d.size / d.shape[1] * w.shape[0]
    # The values are the float32 rounding of the float64 products: within a few ulps of float32's matmul.
    np.testing.assert_allclose(exact, (torch.from_numpy(d) @ torch.from_numpy(w).T).numpy(), rtol=1e-5, atol=1e-6)
    # The bound holds on every entry (and is not vacuous: most tokens are ruled out above).
    screen = (torch.from_numpy(d).bfloat16() @ torch.from_numpy(w).bfloat16().T).float().numpy()
    slope, ratio, floor = screen_bound(d.shape[1], float(np.abs(d).max()), float(np.abs(w).max()))
    bound = slope * row_norms(d)[:, None] * row_norms(w)[None, :] + ratio * np.abs(screen) + floor
    assert (np.abs(screen.astype(np.float64) - exact) <= bound).all()


def test_the_screened_search_computes_rows_with_nan_or_inf_in_full():
    rng = np.random.default_rng(3)
    d = rng.standard_normal((4, 16)).astype(np.float32)
    w = rng.standard_normal((300, 16)).astype(np.float32)
    d[1, 3] = np.nan
    d[2, 0] = np.inf
    d[3] = np.float32(3e38)  # the screen overflows to inf
    reference = _extremes(exact_logits(d, w), 5)
    got, computed = _screened(d, w, 5)
    for want, found in zip(reference, got, strict=True):
        assert np.array_equal(want, found)
    assert computed >= 3 * w.shape[0]
    w[7, 2] = np.inf  # an unembedding with inf: no bound holds; logit_chunk passes infinite norms
    reference = _extremes(exact_logits(d, w), 5)
    got, computed = _screened(d, w, 5, d_norm=np.full(d.shape[0], np.inf))
    for want, found in zip(reference, got, strict=True):
        assert np.array_equal(want, found)
    assert computed == d.shape[0] * w.shape[0]


@pytest.mark.slow
def test_the_shipped_saes_logit_effects_equal_the_exact_lists(real_model):
    from featurepedia.sources.sae import shipped_sae

    source = source_for(real_model, "6-res-sae", sae_path=shipped_sae("smollm2-135m", "6-res-sae"))
    lens = LogitLens(real_model)
    directions = residual_directions(real_model, source)[:48]
    got = [t.numpy() for t in logit_chunk(real_model, directions, 10, lens)]
    reference = _extremes(exact_logits(real_model.logit_lens(directions)[0].numpy(), lens.w_np), 10)
    for want, found in zip(reference, got, strict=True):
        assert np.array_equal(want, found)
    # The float32 BLAS product agrees to within its own rounding.
    old = real_model.logit_effects(directions).topk(10, dim=1)
    torch.testing.assert_close(torch.from_numpy(got[0]), old.values, rtol=1e-5, atol=1e-5)
