"""Finishing a run chunk-wise with arrays equals the simple per-feature version, kept here as reference."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from featurepedia.corpus import ContextSpec
from featurepedia.dashboards.collector import Collector
from featurepedia.dashboards.config import RunConfig
from featurepedia.dashboards.finalize import _chunk, active_counts
from featurepedia.dashboards.parquet import ParquetSink, read_features
from featurepedia.dashboards.results import Example, ExampleList, FeatureDashboard, RunInfo


# --- reference: one feature at a time, one Python object per example ----------------------------------
def reference_feature(collector: Collector, f: int, threshold: float, active: float, texts: dict,
                      n_tokens: int, config: RunConfig) -> FeatureDashboard:
    max_act, min_act = float(collector.extremes.max[f]), float(collector.extremes.min[f])
    largest = max(abs(max_act), abs(min_act))
    decimals = 6 if largest <= 0 or not math.isfinite(largest) else max(0, 4 - math.floor(math.log10(largest)))
    picks: list[tuple[int, str, int]] = []
    rows: list[np.ndarray] = []
    top = collector.top
    top_ctx = top.context_ids[f].tolist()
    scores = top.scores[f].tolist()
    order = sorted((s for s in range(top.k) if top_ctx[s] >= 0), key=lambda s: (-scores[s], top_ctx[s]))
    for rank, slot in enumerate(order):
        picks.append((top_ctx[slot], "top", rank))
        rows.append(top.values[f, slot].numpy())
    sample = collector.sample
    values = sample.values[f].numpy()
    maxes = values.max(axis=1).tolist() if sample.k else []
    ids = sample.context_ids[f].tolist()
    exclude = {top_ctx[s] for s in order}
    keep = sorted((s for s in range(sample.k) if ids[s] >= 0 and ids[s] not in exclude and maxes[s] > threshold),
                  key=lambda s: (maxes[s], ids[s]))
    if keep:
        for g, group in enumerate(np.array_split(np.array(keep), min(config.quantile_bins, len(keep)))):
            spread = np.linspace(0, len(group) - 1, min(config.per_bin, len(group))).round().astype(int)
            for rank, slot in enumerate(reversed(group[spread].tolist())):
                picks.append((ids[slot], f"q{g}", rank))
                rows.append(values[slot])
    negative = collector.negative
    for rank, (slot, ctx) in enumerate((s, c) for s, c in enumerate(negative.context_ids[f].tolist()) if c >= 0):
        picks.append((ctx, "negative", rank))
        rows.append(negative.values[f, slot].numpy())
    examples = []
    for (ctx, bin_, rank), row in zip(picks, rows, strict=True):
        vals = np.round(row.astype(np.float64), decimals)
        ids_, tokens, notes, special = texts[ctx]
        examples.append(Example(token_ids=ids_, tokens=tokens, notes=notes, special=special, values=vals,
                                max_value=float(vals.max()), max_index=int(vals.argmax()), bin=bin_, rank=rank,
                                context=ctx))
    h = float(collector.hist.half_range[f])
    return FeatureDashboard(
        index=f, max_act=round(max_act, decimals), min_act=round(min_act, decimals), density=active / n_tokens,
        hist_counts=collector.hist.counts[f].tolist(), hist_lo=-h if collector.hist.signed else 0.0, hist_hi=h,
        examples=examples)


# --- helpers -------------------------------------------------------------------------------------------
def _collector(nonnegative: bool, n_contexts: int, seed: int = 0) -> tuple[Collector, RunConfig]:
    """A collector fed random batches: features of very different scales, some silent, a few contexts
    (fewer than the slots) for the last features' activity so empty slots occur."""
    config = RunConfig(model="m", source="s", contexts=ContextSpec(ctx_len=6), top_k=4, quantile_bins=3,
                       per_bin=2, n_negative=3, hist_bins=16)
    n_features = 40
    collector = Collector(config, n_features, nonnegative, threads=2)
    gen = torch.Generator().manual_seed(seed)
    scales = torch.logspace(-3, 3, n_features)
    scales[5] = 0  # never active
    done = 0
    while done < n_contexts:
        n = min(7, n_contexts - done)
        acts = torch.randn(n, 6, n_features, generator=gen) * scales
        if nonnegative:
            acts = acts.clamp(min=0)
        acts[:, :, -3:] *= (torch.rand(n, 1, 1, generator=gen) < 0.1)  # rarely active
        ids = torch.randint(0, 1000, (n, 6), generator=gen)
        collector.update(acts, skip_first=True, token_ids=ids)
        done += n
    collector.close()
    return collector, config


def _texts(collector: Collector) -> dict:
    return {c: (ids, [f"t{i}" for i in ids], {0: "note"} if c % 5 == 0 else {}, [2] if c % 3 == 0 else [])
            for c, ids in collector.kept.items()}


def _threshold(collector: Collector, config: RunConfig) -> torch.Tensor:
    final_max = collector.extremes.max
    if collector.nonnegative:
        return torch.zeros_like(final_max)
    return (config.active_fraction * final_max).clamp(min=0)


def _as_rows(feature: FeatureDashboard) -> list[tuple]:
    return [(e.bin, e.rank, e.context, e.token_ids, e.tokens, e.notes, e.special, e.values_list(), e.max_value,
             e.max_index)
            for e in feature.examples]


# --- tests ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("nonnegative", [False, True])
@pytest.mark.parametrize("n_contexts", [3, 200])
def test_chunk_equals_the_per_feature_reference(nonnegative, n_contexts):
    collector, config = _collector(nonnegative, n_contexts)
    texts = _texts(collector)
    threshold = _threshold(collector, config)
    active = active_counts(collector, threshold, nonnegative).tolist()
    n_tokens = int(collector.extremes.n_tokens)
    for start, stop in [(0, 16), (16, 40)]:
        chunk = _chunk(collector, start, stop, threshold.numpy(), active, texts, n_tokens, config)
        assert [f.index for f in chunk] == list(range(start, stop))
        for feature in chunk:
            expected = reference_feature(collector, feature.index, float(threshold[feature.index]),
                                         active[feature.index], texts, n_tokens, config)
            assert isinstance(feature.examples, ExampleList)
            assert _as_rows(feature) == _as_rows(expected), feature.index
            got = {k: v for k, v in feature.to_dict().items() if k != "examples"}
            assert got == {k: v for k, v in expected.to_dict().items() if k != "examples"}
    bins = {e.bin for f in chunk for e in f.examples}
    assert {"top", "q0", "q2", "negative"} <= bins if n_contexts == 200 else "top" in bins


def test_quantile_groups_skip_top_contexts_and_show_highest_first():
    collector, config = _collector(False, 200, seed=3)
    threshold = _threshold(collector, config)
    active = active_counts(collector, threshold, False).tolist()
    chunk = _chunk(collector, 0, 40, threshold.numpy(), active, _texts(collector), 1, config)
    for feature in chunk:
        top = {e.context for e in feature.examples if e.bin == "top"}
        groups = [[e for e in feature.examples if e.bin == f"q{g}"] for g in range(config.quantile_bins)]
        for group in groups:
            assert all(e.context not in top for e in group)
            assert [e.rank for e in group] == list(range(len(group)))
            assert [e.max_value for e in group] == sorted((e.max_value for e in group), reverse=True)
        lows = [min(e.max_value for e in g) for g in groups if g]
        assert lows == sorted(lows)  # q0 lowest


def test_parquet_sink_writes_columns_and_objects_alike(tmp_path):
    """A run's chunks (arrays) and the same features as plain objects (as from a database) give the same
    bundle."""
    collector, config = _collector(False, 120)
    threshold = _threshold(collector, config)
    active = active_counts(collector, threshold, False).tolist()
    texts = _texts(collector)
    chunks = [_chunk(collector, a, b, threshold.numpy(), active, texts, 720, config) for a, b in [(0, 16), (16, 40)]]
    plain = [[FeatureDashboard(**{**{k: getattr(f, k) for k in f.__dataclass_fields__}, "examples": list(f.examples)})
              for f in chunk] for chunk in chunks]
    for name, data in [("columns", chunks), ("objects", plain)]:
        sink = ParquetSink(tmp_path / name)
        run = RunInfo(model_id="m", model_info={}, source={}, config={})
        sink.begin(run)
        for chunk in data:
            sink.write_features(chunk)
        sink.finish(run)
    read = {name: [f.to_dict() for c in read_features(tmp_path / name) for f in c] for name in ("columns", "objects")}
    assert read["columns"] == read["objects"]
    assert read["columns"] == [f.to_dict() for c in chunks for f in c]
