"""Turn a finished Collector into FeatureDashboards, a chunk of features at a time."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from functools import lru_cache

import numpy as np
import torch

from featurepedia.dashboards.collector import Collector
from featurepedia.dashboards.config import RunConfig
from featurepedia.dashboards.density import activity_threshold
from featurepedia.dashboards.effects import WeightViews, weight_view_chunks
from featurepedia.dashboards.results import ContextText, ExampleColumns, ExampleList, FeatureDashboard
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
    texts = _context_texts(model, collector)
    if views is None:
        views = weight_view_chunks(model, source, config.n_logits, config.n_neighbours, chunk=CHUNK)
    final_max = collector.extremes.max
    threshold = torch.from_numpy(activity_threshold(final_max.numpy(), source.nonnegative, config.active_fraction))
    n_tokens = max(1, int(collector.extremes.n_tokens))
    active = active_counts(collector, threshold, source.nonnegative).tolist()
    limits = threshold.numpy()
    parts = iter(views)
    for start in range(0, source.n_features, CHUNK):
        stop = min(start + CHUNK, source.n_features)
        chunk = _chunk(collector, start, stop, limits, active, texts, n_tokens, config)
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


def _context_texts(model: LanguageModel, collector: Collector) -> dict[int, ContextText]:
    """Token ids, display strings, notes and special positions of every context some feature keeps (the
    collector kept their tokens as it went, so the corpus is read once)."""
    needed: set[int] = set()
    for acc in (collector.top, collector.sample, collector.negative):
        needed.update(int(i) for i in acc.context_ids.unique().tolist() if i >= 0)
    found: dict[int, ContextText] = {}
    for index in sorted(needed):
        ids = collector.kept[index]
        shown = model.display(ids)
        found[index] = (ids, [t.text for t in shown], {i: t.note for i, t in enumerate(shown) if t.note},
                        [i for i, t in enumerate(shown) if t.special])
    return found


def _decimals(max_abs: np.ndarray) -> np.ndarray:
    """Decimals that keep 5 significant digits relative to each feature's largest activation (6 when it
    is 0 or not finite)."""
    usable = (max_abs > 0) & np.isfinite(max_abs)
    with np.errstate(divide="ignore", invalid="ignore"):
        places = np.maximum(0, 4 - np.floor(np.log10(np.where(usable, max_abs, 1.0))))
    return np.where(usable, places, 6).astype(np.int64)


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


def _chunk(collector: Collector, start: int, stop: int, threshold: np.ndarray, active: list[float],
           texts: dict[int, ContextText], n_tokens: int, config: RunConfig) -> list[FeatureDashboard]:
    """Features [start, stop) with their examples chosen, gathered and rounded as arrays for the whole chunk.

    Per feature, in display order: the top contexts by max activation (rank 0 highest); then the
    quantile groups q0 (lowest) .. q{n-1}: reservoir contexts above the final threshold and not already
    among the top, sorted by (max, context id), cut into equal groups, ``per_bin`` spread evenly over each
    group (each group shown highest first); then the non-activating contexts in slot order.
    """
    c = stop - start
    max_act = collector.extremes.max[start:stop].double().numpy()
    min_act = collector.extremes.min[start:stop].double().numpy()
    decimals = _decimals(np.maximum(np.abs(max_act), np.abs(min_act)))
    bin_names = ["top", *(f"q{g}" for g in range(config.quantile_bins)), "negative"]
    picks = [_top_picks(collector, start, stop), _quantile_picks(collector, start, stop, threshold, config),
             _negative_picks(collector, start, stop)]
    rows = np.concatenate([p[0] for p in picks])  # feature offset in the chunk
    bins = np.concatenate([p[2] for p in picks])
    ranks = np.concatenate([p[3] for p in picks])
    order = np.lexsort((ranks, bins, rows))  # feature, then bin (top, q0.., negative), then rank
    sources = list(zip((collector.top, collector.sample, collector.negative), picks, strict=True))
    raw = np.concatenate([acc.values.numpy()[start + p[0], p[1]] for acc, p in sources])  # [n, T]
    contexts = np.concatenate([acc.context_ids.numpy()[start + p[0], p[1]] for acc, p in sources])
    rows, bins, ranks, contexts = rows[order], bins[order], ranks[order], contexts[order]
    values = raw[order].astype(np.float64)
    row_decimals = decimals[rows]
    for d in np.unique(row_decimals).tolist():  # np.round per distinct precision (a few per chunk)
        chosen = row_decimals == d
        values[chosen] = np.round(values[chosen], d)
    peaks = values.argmax(axis=1) if len(values) else np.zeros(0, dtype=np.int64)
    columns = ExampleColumns(
        feature=rows + start, bin=bins, bin_names=bin_names, rank=ranks, context=contexts, values=values,
        max_value=values[np.arange(len(values)), peaks], max_index=peaks, texts=texts)
    bounds = np.searchsorted(rows, np.arange(c + 1)).tolist()
    h = collector.hist.half_range[start:stop].tolist()
    counts = collector.hist.counts[start:stop].tolist()
    maxes, mins, places = max_act.tolist(), min_act.tolist(), decimals.tolist()
    return [FeatureDashboard(
        index=start + j, max_act=round(maxes[j], places[j]), min_act=round(mins[j], places[j]),
        density=active[start + j] / n_tokens, hist_counts=counts[j],
        hist_lo=-h[j] if collector.hist.signed else 0.0, hist_hi=h[j],
        examples=ExampleList(columns, bounds[j], bounds[j + 1]),
    ) for j in range(c)]


Picks = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]  # feature offset, slot, bin index, rank


def _top_picks(collector: Collector, start: int, stop: int) -> Picks:
    top = collector.top
    scores = top.scores[start:stop].numpy()
    ids = top.context_ids[start:stop].numpy()
    order = np.lexsort((ids, -scores), axis=1)  # highest first; ties by context id (whatever the slot order)
    held = np.take_along_axis(ids, order, axis=1) >= 0
    rows, columns = np.nonzero(held)
    ranks = np.cumsum(held, axis=1)[rows, columns] - 1
    return rows, order[rows, columns], np.zeros_like(rows), ranks


def _negative_picks(collector: Collector, start: int, stop: int) -> Picks:
    held = collector.negative.context_ids[start:stop].numpy() >= 0
    rows, slots = np.nonzero(held)
    ranks = np.cumsum(held, axis=1)[rows, slots] - 1
    return rows, slots, np.full_like(rows, collector.config.quantile_bins + 1), ranks


def _quantile_picks(collector: Collector, start: int, stop: int, threshold: np.ndarray, config: RunConfig) -> Picks:
    sample = collector.sample
    ids = sample.context_ids[start:stop].numpy()  # [c, R]
    maxes = sample.values[start:stop].numpy().max(axis=2) if sample.k else np.zeros(ids.shape, np.float32)
    top_ids = collector.top.context_ids[start:stop].numpy()  # [c, k]
    among_top = (ids[:, :, None] == top_ids[:, None, :]).any(axis=2)
    keep = (ids >= 0) & ~among_top & (maxes > threshold[start:stop, None])
    order = np.lexsort((ids, maxes, ~keep), axis=1)  # kept first, by (max, context id)
    n_kept = keep.sum(axis=1).tolist()
    parts: list[Picks] = []
    for j, n in enumerate(n_kept):
        if n:
            positions, groups, ranks = _quantile_layout(n, config.quantile_bins, config.per_bin)
            parts.append((np.full(len(positions), j), order[j, positions], groups + 1, ranks))
    if not parts:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty, empty, empty
    rows, contexts, groups, ranks = (np.concatenate([p[i] for p in parts]) for i in range(4))
    return rows, contexts, groups, ranks


@lru_cache(maxsize=1024)
def _quantile_layout(n: int, n_groups: int, per_group: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For ``n`` kept contexts in ascending order: the positions shown, their group and rank in it.

    The n are cut into min(n_groups, n) near-equal groups (q0 lowest); in each, ``per_group`` positions
    spread evenly over the group (its ends included), ranked highest first.
    """
    positions, groups, ranks = [], [], []
    for g, group in enumerate(np.array_split(np.arange(n), min(n_groups, n))):
        chosen = group[np.linspace(0, len(group) - 1, min(per_group, len(group))).round().astype(int)]
        for rank, position in enumerate(reversed(chosen.tolist())):
            positions.append(position)
            groups.append(g)
            ranks.append(rank)
    return np.array(positions), np.array(groups), np.array(ranks)


def _logit_lists(model: LanguageModel, values: torch.Tensor, ids: torch.Tensor) -> list[list[tuple[str, float]]]:
    """(token, effect) lists for a chunk of features: values and ids are [c, n]."""
    texts = model.token_texts(ids.flatten().tolist())
    n = ids.shape[1]
    return [[(texts[r * n + j], round(v, 4)) for j, v in enumerate(row)] for r, row in enumerate(values.tolist())]
