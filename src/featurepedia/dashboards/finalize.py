"""Turn a finished Collector into FeatureDashboards, a chunk of features at a time."""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator
from functools import lru_cache

import numpy as np
import torch

from featurepedia.corpus.contexts import iter_contexts
from featurepedia.dashboards.collector import Collector
from featurepedia.dashboards.config import RunConfig
from featurepedia.dashboards.effects import WeightViews, weight_view_chunks
from featurepedia.dashboards.results import Example, FeatureDashboard
from featurepedia.lm.model import LanguageModel
from featurepedia.sources.base import Source

CHUNK = 256


def build_dashboards(model: LanguageModel, source: Source, config: RunConfig, collector: Collector,
                     views: Iterable[WeightViews] | None = None) -> Iterator[list[FeatureDashboard]]:
    """Yield lists of FeatureDashboards (CHUNK features each, in index order).

    Args:
        views: the features' logit effects and neighbours, CHUNK features per item in index order (see
            weight_view_chunks); computed here when not given.
    """
    texts = _context_texts(model, config, collector)
    if views is None:
        views = weight_view_chunks(model, source, config.n_logits, config.n_neighbours, chunk=CHUNK)
    final_max = collector.extremes.max
    threshold = torch.zeros_like(final_max) if source.nonnegative else (
        config.active_fraction * final_max).clamp(min=0)
    n_tokens = max(1, int(collector.extremes.n_tokens))
    active = active_counts(collector, threshold, source.nonnegative).tolist()
    parts = iter(views)
    for start in range(0, source.n_features, CHUNK):
        stop = min(start + CHUNK, source.n_features)
        chunk = [_feature(collector, f, float(threshold[f]), active[f], texts, n_tokens, config)
                 for f in range(start, stop)]
        part = next(parts)  # asked for only now: it may still be being computed
        if part.top_ids.shape[0] != len(chunk):
            raise ValueError(f"weight views for features {start}-{stop - 1} hold {part.top_ids.shape[0]} rows")
        top = _logit_lists(model, part.top_values, part.top_ids)
        bottom = _logit_lists(model, part.bottom_values, part.bottom_ids)
        near_v, near_i = part.near_cosines.tolist(), part.near_ids.tolist()
        for j, feature in enumerate(chunk):
            feature.top_logits = top[j]
            feature.bottom_logits = bottom[j]
            feature.neighbours = [(i, round(v, 4)) for v, i in zip(near_v[j], near_i[j], strict=True)]
        yield chunk


def _context_texts(model: LanguageModel, config: RunConfig, collector: Collector
                   ) -> dict[int, tuple[list[int], list[str], dict[int, str]]]:
    """Token ids and display strings of every context some feature keeps.

    The collector keeps their tokens as it goes; only a checkpoint from an older version lacks them, and
    then the deterministic stream is read again.
    """
    needed: set[int] = set()
    for acc in (collector.top, collector.sample, collector.negative):
        needed.update(int(i) for i in acc.context_ids.unique().tolist() if i >= 0)
    found: dict[int, tuple[list[int], list[str], dict[int, str]]] = {}
    if needed <= collector.kept.keys():
        for index in sorted(needed):
            ids = collector.kept[index]
            shown = model.display(ids)
            found[index] = (ids, [t.text for t in shown], {i: t.note for i, t in enumerate(shown) if t.note})
        return found
    last = max(needed, default=-1)
    for index, ids in enumerate(iter_contexts(model.tokenizer, config.contexts, config.n_contexts)):
        if index > last:
            break
        if index in needed:
            shown = model.display(ids)
            found[index] = (ids, [t.text for t in shown], {i: t.note for i, t in enumerate(shown) if t.note})
    return found


def _decimals(max_abs: float) -> int:
    """Decimals that keep 5 significant digits relative to the feature's largest activation."""
    if max_abs <= 0 or not math.isfinite(max_abs):
        return 6
    return max(0, 4 - math.floor(math.log10(max_abs)))


def active_counts(collector: Collector, threshold: torch.Tensor, nonnegative: bool) -> torch.Tensor:
    """Tokens above each feature's threshold: [F] (signed: linear interpolation inside the threshold's bin)."""
    hist = collector.hist
    if nonnegative:
        return (collector.extremes.n_tokens - hist.off).double()
    h = hist.half_range.double()
    lo = -h if hist.signed else torch.zeros_like(h)
    width = ((h - lo) / hist.n_bins).clamp(min=1e-300)
    position = ((threshold.double() - lo) / width).clamp(0, hist.n_bins)  # threshold in bin units
    first_full = position.ceil().long()  # bins entirely above the threshold start here
    bins = torch.arange(hist.n_bins).unsqueeze(0)
    counts = hist.counts.double()
    full = (counts * (bins >= first_full.unsqueeze(1))).sum(dim=1)
    partial_bin = position.floor().long().clamp(max=hist.n_bins - 1)
    fraction = torch.where(first_full > position.floor().long(), position.ceil() - position, torch.zeros_like(h))
    partial = counts.gather(1, partial_bin.unsqueeze(1)).squeeze(1) * fraction
    return full + partial


def _feature(collector: Collector, f: int, threshold: float, active: float, texts: dict, n_tokens: int,
             config: RunConfig) -> FeatureDashboard:
    max_act = float(collector.extremes.max[f])
    min_act = float(collector.extremes.min[f])
    decimals = _decimals(max(abs(max_act), abs(min_act)))
    edges = collector.hist.edges(f)
    picks: list[tuple[int, str, int]] = []  # (context id, bin, rank) of each example, in display order
    rows: list[np.ndarray] = []  # the matching per-token values, [T] each
    top = collector.top
    top_values = top.values[f].numpy()
    top_ctx = top.context_ids[f].tolist()
    order = [s for s in top.scores[f].argsort(descending=True).tolist() if top_ctx[s] >= 0]
    for rank, slot in enumerate(order):
        picks.append((top_ctx[slot], "top", rank))
        rows.append(top_values[slot])
    _quantile_picks(collector, f, threshold, {top_ctx[s] for s in order}, config, picks, rows)
    negative = collector.negative
    neg_values = negative.values[f].float().numpy()
    for rank, (slot, ctx) in enumerate((s, c) for s, c in enumerate(negative.context_ids[f].tolist()) if c >= 0):
        picks.append((ctx, "negative", rank))
        rows.append(neg_values[slot])
    return FeatureDashboard(
        index=f, max_act=round(max_act, decimals), min_act=round(min_act, decimals),
        density=active / n_tokens, hist_counts=collector.hist.counts[f].tolist(),
        hist_lo=float(edges[0]), hist_hi=float(edges[-1]), examples=_examples(picks, rows, texts, decimals),
    )


def _quantile_picks(collector: Collector, f: int, threshold: float, exclude: set[int], config: RunConfig,
                    picks: list[tuple[int, str, int]], rows: list[np.ndarray]) -> None:
    """Reservoir contexts above the final threshold, sorted by max and cut into equal groups (q0 lowest)."""
    sample = collector.sample
    values = sample.values[f].float().numpy()  # [R, T]
    maxes = values.max(axis=1).tolist()
    ids = sample.context_ids[f].tolist()
    keep = [s for s in range(sample.k) if ids[s] >= 0 and ids[s] not in exclude and maxes[s] > threshold]
    if not keep:
        return
    keep.sort(key=lambda s: (maxes[s], ids[s]))
    groups = np.array_split(np.array(keep), min(config.quantile_bins, len(keep)))
    for g, group in enumerate(groups):
        chosen = group[_spread(len(group), config.per_bin)]
        for rank, slot in enumerate(reversed(chosen.tolist())):
            picks.append((ids[slot], f"q{g}", rank))
            rows.append(values[slot])


@lru_cache(maxsize=1024)
def _spread(size: int, n: int) -> np.ndarray:
    """Positions of min(n, size) items spread evenly over a group of ``size`` (its ends included)."""
    return np.linspace(0, size - 1, min(n, size)).round().astype(int)


def _examples(picks: list[tuple[int, str, int]], rows: list[np.ndarray], texts: dict,
              decimals: int) -> list[Example]:
    """Examples for one feature, rounding all their values in one go."""
    if not rows:
        return []
    matrix = np.round(np.stack(rows).astype(np.float64), decimals)  # [n, T]
    peaks = matrix.argmax(axis=1)
    maxes = matrix[np.arange(len(matrix)), peaks].tolist()
    out = []
    for (ctx, bin_, rank), vals, peak, top in zip(picks, matrix, peaks.tolist(), maxes, strict=True):
        ids, tokens, notes = texts[ctx]
        # Token lists and notes are shared by every example of the same context (they are never mutated).
        out.append(Example(token_ids=ids, tokens=tokens, notes=notes, values=vals, max_value=top,
                           max_index=peak, bin=bin_, rank=rank, context=ctx))
    return out


def _logit_lists(model: LanguageModel, values: torch.Tensor, ids: torch.Tensor) -> list[list[tuple[str, float]]]:
    """(token, effect) lists for a chunk of features: values and ids are [c, n]."""
    texts = model.token_texts(ids.flatten().tolist())
    n = ids.shape[1]
    return [[(texts[r * n + j], round(v, 4)) for j, v in enumerate(row)] for r, row in enumerate(values.tolist())]
