"""Weight-based views of features: logit effects and nearest neighbours (chunked, bounded memory)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import torch
from torch import Tensor

from featurepedia.lm.model import LanguageModel
from featurepedia.sources.base import Source


def residual_directions(model: LanguageModel, source: Source) -> Tensor:
    """Each feature's decoder direction in the residual stream: [F, d_model]."""
    return model.to_residual(source.hook_name, source.decoder_directions())


def logit_chunk(model: LanguageModel, directions: Tensor, n: int) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """Top and bottom ``n`` tokens of a chunk of features' directions [c, d_model] through the unembedding.

    Returns:
        (top_values [c, n], top_ids [c, n], bottom_values [c, n], bottom_ids [c, n]).
    """
    logits = model.logit_effects(directions)  # [c, vocab]
    top = logits.topk(n, dim=1)
    bottom = logits.topk(n, dim=1, largest=False)
    return top.values, top.indices, bottom.values, bottom.indices


def neighbour_chunk(unit: Tensor, start: int, stop: int, n: int) -> tuple[Tensor, Tensor]:
    """The ``n`` most cosine-similar other features of features start..stop-1, given all unit directions.

    Returns:
        (cosines [c, n], indices [c, n]).
    """
    n = min(n, unit.shape[0] - 1)
    sims = unit[start:stop] @ unit.T  # [c, F]
    rows = torch.arange(sims.shape[0])
    sims[rows, rows + start] = float("-inf")  # a feature is not its own neighbour
    best = sims.topk(n, dim=1)
    return best.values, best.indices


@dataclass
class WeightViews:
    """Logit effects and neighbours of every feature: [F, n] tensors (small: n is about 10)."""

    top_values: Tensor
    top_ids: Tensor
    bottom_values: Tensor
    bottom_ids: Tensor
    near_cosines: Tensor
    near_ids: Tensor


def weight_view_chunks(model: LanguageModel, source: Source, n_logits: int, n_neighbours: int, chunk: int = 256
                       ) -> Iterator[WeightViews]:
    """Both views, ``chunk`` features at a time in index order (a run computes the next chunk on a thread
    while it builds the dashboards of this one). Memory: one [chunk, vocab] block at a time."""
    with torch.inference_mode():
        directions = residual_directions(model, source)
        unit = torch.nn.functional.normalize(directions.float(), dim=1)  # [F, d]
    for start in range(0, directions.shape[0], chunk):
        stop = min(start + chunk, directions.shape[0])
        with torch.inference_mode():  # per chunk: a generator may be resumed on another thread
            effects = logit_chunk(model, directions[start:stop], n_logits)
            near = neighbour_chunk(unit, start, stop, n_neighbours)
        yield WeightViews(*effects, *near)
