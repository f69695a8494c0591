"""The JumpReLU SAE: a pre-activation passes only above its feature's learned ``threshold`` [d_sae]."""

from __future__ import annotations

import torch
from torch import Tensor

from featurepedia.sources.sae.base import SAESource


class JumpReLUSAE(SAESource):
    extra_tensors = ("threshold",)

    def activate(self, pre: Tensor) -> Tensor:
        return torch.relu(pre) * (pre > self.weights["threshold"])
