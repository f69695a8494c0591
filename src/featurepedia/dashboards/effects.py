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


def logit_effects(model: LanguageModel, directions: Tensor, n: int, chunk: int = 256
                  ) -> Iterator[tuple[Tensor, Tensor, Tensor, Tensor]]:
    """Top and bottom ``n`` tokens per feature, one chunk of features at a time.

    Yields:
        (top_values [c, n], top_ids [c, n], bottom_values [c, n], bottom_ids [c, n]) per chunk, in order.
    """
    for start in range(0, directions.shape[0], chunk):
        logits = model.logit_effects(directions[start:start + chunk])  # [c, vocab]
        top = logits.topk(n, dim=1)
        bottom = logits.topk(n, dim=1, largest=False)
        yield top.values, top.indices, bottom.values, bottom.indices


def neighbours(directions: Tensor, n: int, chunk: int = 1024) -> Iterator[tuple[Tensor, Tensor]]:
    """The ``n`` most cosine-similar other features, one chunk of features at a time.

    Yields:
        (cosines [c, n], indices [c, n]) per chunk, in order.
    """
    unit = torch.nn.functional.normalize(directions.float(), dim=1)  # [F, d]
    n = min(n, unit.shape[0] - 1)
    for start in range(0, unit.shape[0], chunk):
        sims = unit[start:start + chunk] @ unit.T  # [c, F]
        rows = torch.arange(sims.shape[0])
        sims[rows, rows + start] = float("-inf")  # a feature is not its own neighbour
        best = sims.topk(n, dim=1)
        yield best.values, best.indices


@dataclass
class WeightViews:
    """Logit effects and neighbours of every feature: [F, n] tensors (small: n is about 10)."""

    top_values: Tensor
    top_ids: Tensor
    bottom_values: Tensor
    bottom_ids: Tensor
    near_cosines: Tensor
    near_ids: Tensor


def weight_views(model: LanguageModel, source: Source, n_logits: int, n_neighbours: int, chunk: int = 256
                 ) -> WeightViews:
    """Both views for all features."""
    builder = WeightViewsBuilder(model, source, n_logits, n_neighbours, chunk)
    return builder.result()


class WeightViewsBuilder:
    """Computes the weight views a chunk of features per ``step()``.

    They need no corpus, so a run takes one step alongside each batch of its pass (on the collector's
    worker) instead of one long block of work at the start or the end.
    """

    def __init__(self, model: LanguageModel, source: Source, n_logits: int, n_neighbours: int,
                 chunk: int = 256) -> None:
        self.model, self.source = model, source
        self.n_logits, self.n_neighbours, self.chunk = n_logits, n_neighbours, chunk
        self._steps: Iterator[None] | None = None
        self._effects: list[tuple[Tensor, ...]] = []
        self._near: list[tuple[Tensor, ...]] = []
        self.done = False

    def _run(self) -> Iterator[None]:
        directions = residual_directions(self.model, self.source)
        for part in logit_effects(self.model, directions, self.n_logits, self.chunk):
            self._effects.append(part)
            yield
        for near in neighbours(directions, self.n_neighbours, self.chunk):
            self._near.append(near)
            yield

    def step(self) -> None:
        """Compute the next chunk (nothing once all are done)."""
        if self.done:
            return
        with torch.inference_mode():
            if self._steps is None:
                self._steps = self._run()
            if next(self._steps, StopIteration) is StopIteration:
                self.done = True

    def result(self) -> WeightViews:
        """All views, computing whatever steps remain."""
        while not self.done:
            self.step()
        effects = [torch.cat(parts) for parts in zip(*self._effects, strict=True)]
        near = [torch.cat(parts) for parts in zip(*self._near, strict=True)]
        return WeightViews(*effects, *near)
