"""The TopK SAE: only the k largest pre-activations of each token pass (through a ReLU); cfg.json gives k."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
import torch
from numba import njit
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

    def activate_biased(self, product: Tensor, bias: Tensor) -> Tensor:
        """The bias, the top k and the ReLU in one compiled pass over each row, in place in ``product``
        (float32 on the CPU; otherwise as :meth:`activate`). The same values as ``activate(product + bias)``:
        each pre-activation is the same float32 sum; of equal pre-activations at the k-th place the lower
        feature index is kept (torch.topk leaves that choice open)."""
        if (type(self).activate is not TopKSAE.activate or product.dtype != torch.float32
                or bias.dtype != torch.float32 or product.device.type != "cpu" or not product.is_contiguous()
                or product.requires_grad):
            return self.activate(product + bias)
        rows = product.reshape(-1, product.shape[-1]).numpy()
        b = bias.contiguous().numpy()
        parts = max(1, min(torch.get_num_threads(), rows.shape[0] // 256))
        if parts == 1:
            topk_relu_rows(rows, b, self.k, 0, rows.shape[0])
        else:
            edges = [rows.shape[0] * i // parts for i in range(parts + 1)]
            pool = _pool(parts - 1)
            others = [pool.submit(topk_relu_rows, rows, b, self.k, edges[i], edges[i + 1]) for i in range(1, parts)]
            topk_relu_rows(rows, b, self.k, edges[0], edges[1])
            for job in others:
                job.result()
        return product


_POOLS: dict[int, ThreadPoolExecutor] = {}


def _pool(workers: int) -> ThreadPoolExecutor:
    """A lasting pool of helper threads (the rows of a batch are split between them and the caller)."""
    if workers not in _POOLS:
        _POOLS[workers] = ThreadPoolExecutor(workers, thread_name_prefix="topk")
    return _POOLS[workers]


@njit(nogil=True, cache=True)
def topk_relu_rows(rows: np.ndarray, bias: np.ndarray, k: int, r0: int, r1: int) -> None:
    """rows[r] <- relu(rows[r] + bias) at its k largest entries (of equal ones the lower index), 0 elsewhere,
    for r in [r0, r1). One pass per row keeps a sorted list of the k best (after the first entries an
    insertion is rare), then the row is zeroed and the k values written back."""
    width = rows.shape[1]
    top_v = np.empty(k, np.float32)
    top_i = np.empty(k, np.int64)
    for r in range(r0, r1):
        row = rows[r]
        n = 0
        low = np.float32(-np.inf)
        for j in range(width):
            v = row[j] + bias[j]
            if n < k:
                p = n
                while p > 0 and top_v[p - 1] < v:
                    top_v[p] = top_v[p - 1]
                    top_i[p] = top_i[p - 1]
                    p -= 1
                top_v[p] = v
                top_i[p] = j
                n += 1
                low = top_v[k - 1] if n == k else low
            elif v > low:
                p = k - 1
                while p > 0 and top_v[p - 1] < v:
                    top_v[p] = top_v[p - 1]
                    top_i[p] = top_i[p - 1]
                    p -= 1
                top_v[p] = v
                top_i[p] = j
                low = top_v[k - 1]
        row[:] = 0.0
        for q in range(n):
            v = top_v[q]
            row[top_i[q]] = v if v > 0 else np.float32(0.0)
