"""Turn a finished Collector into FeatureDashboards, a chunk of features at a time."""

from __future__ import annotations

import math
from collections.abc import Iterator

import numpy as np
import torch

from featurepedia.corpus.contexts import iter_contexts
from featurepedia.dashboards.collector import Collector
from featurepedia.dashboards.config import RunConfig
from featurepedia.dashboards.effects import logit_effects, neighbours, residual_directions
from featurepedia.dashboards.results import Example, FeatureDashboard
from featurepedia.lm.model import LanguageModel
from featurepedia.lm.tokens import TokenText
from featurepedia.sources.base import Source

CHUNK = 256


def build_dashboards(model: LanguageModel, source: Source, config: RunConfig, collector: Collector
                     ) -> Iterator[list[FeatureDashboard]]:
    """Yield lists of FeatureDashboards (CHUNK features each, in index order)."""
    texts = _context_texts(model, config, collector)
    directions = residual_directions(model, source)
    effects = logit_effects(model, directions, config.n_logits, chunk=CHUNK)
    near = neighbours(directions, config.n_neighbours, chunk=CHUNK)
    final_max = collector.extremes.max
    threshold = torch.zeros_like(final_max) if source.nonnegative else (
        config.active_fraction * final_max).clamp(min=0)
    n_tokens = max(1, int(collector.extremes.n_tokens))
    for start in range(0, source.n_features, CHUNK):
        top_v, top_i, bot_v, bot_i = next(effects)
        near_v, near_i = next(near)
        chunk = []
        for j, f in enumerate(range(start, min(start + CHUNK, source.n_features))):
            feature = _feature(collector, f, float(threshold[f]), texts, n_tokens, config, source.nonnegative)
            feature.top_logits = _logit_list(model, top_v[j], top_i[j])
            feature.bottom_logits = _logit_list(model, bot_v[j], bot_i[j])
            feature.neighbours = [(int(i), round(float(v), 4)) for v, i in zip(near_v[j], near_i[j], strict=True)]
            chunk.append(feature)
        yield chunk


def _context_texts(model: LanguageModel, config: RunConfig, collector: Collector
                   ) -> dict[int, tuple[list[int], list[TokenText]]]:
    """Token ids and display strings of every context some feature keeps (re-read from the stream)."""
    needed: set[int] = set()
    for acc in (collector.top, collector.sample, collector.negative):
        needed.update(int(i) for i in acc.context_ids.unique().tolist() if i >= 0)
    found: dict[int, tuple[list[int], list[TokenText]]] = {}
    last = max(needed, default=-1)
    for index, ids in enumerate(iter_contexts(model.tokenizer, config.contexts, config.n_contexts)):
        if index > last:
            break
        if index in needed:
            found[index] = (ids, model.display(ids))
    return found


def _decimals(max_abs: float) -> int:
    """Decimals that keep 5 significant digits relative to the feature's largest activation."""
    if max_abs <= 0 or not math.isfinite(max_abs):
        return 6
    return max(0, 4 - math.floor(math.log10(max_abs)))


def _feature(collector: Collector, f: int, threshold: float, texts: dict, n_tokens: int, config: RunConfig,
             nonnegative: bool) -> FeatureDashboard:
    max_act = float(collector.extremes.max[f])
    min_act = float(collector.extremes.min[f])
    decimals = _decimals(max(abs(max_act), abs(min_act)))
    hist = collector.hist
    active: float
    if nonnegative:
        active = n_tokens - int(hist.off[f])
    else:
        active = hist.count_above(f, threshold)
    edges = hist.edges(f)
    examples: list[Example] = []
    top_ids = set()
    order = collector.top.scores[f].argsort(descending=True)
    for rank, slot in enumerate(order.tolist()):
        ctx = int(collector.top.context_ids[f, slot])
        if ctx < 0:
            continue
        top_ids.add(ctx)
        examples.append(_example(texts[ctx], collector.top.values[f, slot], decimals, "top", rank))
    examples.extend(_quantile_examples(collector, f, threshold, top_ids, texts, decimals, config))
    for rank, slot in enumerate(range(collector.negative.k)):
        ctx = int(collector.negative.context_ids[f, slot])
        if ctx >= 0:
            examples.append(_example(texts[ctx], collector.negative.values[f, slot], decimals, "negative", rank))
    return FeatureDashboard(
        index=f, max_act=round(max_act, decimals), min_act=round(min_act, decimals),
        density=active / n_tokens, hist_counts=hist.counts[f].tolist(),
        hist_lo=float(edges[0]), hist_hi=float(edges[-1]), examples=examples,
    )


def _quantile_examples(collector: Collector, f: int, threshold: float, exclude: set[int], texts: dict,
                       decimals: int, config: RunConfig) -> list[Example]:
    """Reservoir contexts above the final threshold, sorted by max and cut into equal groups (q0 lowest)."""
    sample = collector.sample
    values = sample.values[f].float()  # [R, T]
    maxes = values.amax(dim=1)
    keep = [s for s in range(sample.k)
            if sample.context_ids[f, s] >= 0 and int(sample.context_ids[f, s]) not in exclude
            and float(maxes[s]) > threshold]
    if not keep:
        return []
    keep.sort(key=lambda s: (float(maxes[s]), int(sample.context_ids[f, s])))
    groups = np.array_split(np.array(keep), min(config.quantile_bins, len(keep)))
    out = []
    for g, group in enumerate(groups):
        # Spread the chosen examples over the group rather than taking its first few.
        chosen = group[np.linspace(0, len(group) - 1, min(config.per_bin, len(group))).round().astype(int)]
        for rank, slot in enumerate(reversed(chosen.tolist())):
            ctx = int(sample.context_ids[f, slot])
            out.append(_example(texts[ctx], values[slot], decimals, f"q{g}", rank))
    return out


def _example(text: tuple[list[int], list[TokenText]], values: torch.Tensor, decimals: int, bin_: str,
             rank: int) -> Example:
    ids, shown = text
    vals = np.round(values.float().numpy().astype(np.float64), decimals)
    max_index = int(vals.argmax())
    return Example(
        token_ids=list(ids), tokens=[t.text for t in shown],
        notes={i: t.note for i, t in enumerate(shown) if t.note}, values=vals.tolist(),
        max_value=float(vals[max_index]), max_index=max_index, bin=bin_, rank=rank,
    )


def _logit_list(model: LanguageModel, values: torch.Tensor, ids: torch.Tensor) -> list[tuple[str, float]]:
    out = []
    for v, i in zip(values.tolist(), ids.tolist(), strict=True):
        text = model.display([i])[0].text
        out.append((text, round(float(v), 4)))
    return out
