"""The TopK SAE: only the k largest pre-activations of each token pass (through a ReLU); cfg.json gives k."""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from featurepedia.sources.base import SourceError
from featurepedia.sources.sae.base import SAESource


class TopKSAE(SAESource):
    k: int

    def read_options(self, cfg: dict[str, Any]) -> None:
        self.k = int(cfg.get("k", 0))
        if not 0 < self.k <= self.n_features:
            raise SourceError(f"{self.path}/cfg.json: topk SAE needs 0 < k <= d_sae ({self.n_features}); "
                              f"found k={self.k}")

    def activate(self, pre: Tensor) -> Tensor:
        values, indices = pre.topk(self.k, dim=-1)  # [..., k]
        return torch.zeros_like(pre).scatter(-1, indices, torch.relu(values))
