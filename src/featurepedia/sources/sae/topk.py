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
        if cfg.get("rescale_acts_by_decoder_norm"):
            # SAELens ranks pre-activations times each decoder row's norm and divides it out when decoding;
            # folding the norms into the weights gives the same activations and reconstruction.
            w = self.weights
            norms = w["W_dec"].norm(dim=-1).clamp_min(1e-8)
            w["W_enc"] = (w["W_enc"] * norms).contiguous()
            w["b_enc"] = w["b_enc"] * norms
            w["W_dec"] = (w["W_dec"] / norms[:, None]).contiguous()

    def activate(self, pre: Tensor) -> Tensor:
        values, indices = pre.topk(self.k, dim=-1)  # [..., k]
        return torch.zeros_like(pre).scatter(-1, indices, torch.relu(values))
