"""Logit effects and neighbours, chunk by chunk, against the whole matrices computed at once."""

from __future__ import annotations

import math
import threading

import numpy as np
import pytest
import torch

from featurepedia.dashboards.effects import residual_directions, row_extremes, weight_view_chunks
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
