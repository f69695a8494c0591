"""The standard SAE: a ReLU of the encoder's pre-activations."""

from __future__ import annotations

import torch
from torch import Tensor

from featurepedia.sources.sae.base import SAESource


class StandardSAE(SAESource):
    def activate(self, pre: Tensor) -> Tensor:
        return torch.relu(pre)
