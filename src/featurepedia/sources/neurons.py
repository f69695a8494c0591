"""MLP neurons: the identity basis of ``blocks.{L}.mlp.hook_post``."""

from __future__ import annotations

import torch
from torch import Tensor

from featurepedia.lm.model import LanguageModel
from featurepedia.sources.base import Source, register_source_kind


class NeuronSource(Source):
    """Each feature is one MLP neuron; its decoder direction is the one-hot vector (W_out row downstream)."""

    kind = "neurons"
    # Gated-MLP neurons (silu(gate) * up) and GELU neurons are signed: see dashboards.density.
    nonnegative = False

    def __init__(self, model: LanguageModel, layer: int) -> None:
        hook = f"blocks.{layer}.mlp.hook_post"
        model.hook_point(hook)  # range check with a clear error
        super().__init__(f"{layer}-mlp", hook, model.d_mlp, model.d_mlp)
        # The activations are the model's own, so they are where and what its weights are.
        self._device = model.device
        self._dtype = model.dtype

    @property
    def device(self) -> torch.device:
        return self._device

    @property
    def dtype(self) -> torch.dtype:
        return self._dtype

    def encode(self, hidden: Tensor) -> Tensor:
        return hidden

    def decoder_directions(self) -> Tensor:
        return torch.eye(self.n_features, device=self.device, dtype=self.dtype)


register_source_kind("neurons", NeuronSource)
