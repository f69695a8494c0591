"""A 2-D map of a source's features: UMAP (umap-learn) of their decoder directions, by cosine.

Features whose decoder directions point the same way write the same thing into the residual stream, so
near each other on the map they tend to do related things. For neurons the decoder direction is the
neuron's row of the MLP's output matrix; for an SAE, its W_dec row. The layout is deterministic for a seed
(UMAP runs single-threaded then), and coordinates are scaled to [0, 1] for drawing by the central 99% of
points (the rest are clamped to the border).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

from featurepedia.errors import UsageError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class MapParams:
    n_neighbors: int = 15
    min_dist: float = 0.1
    seed: int = 0

    def check(self, n_points: int) -> None:
        if n_points < 4:
            raise UsageError(f"a map needs at least 4 features; this source has {n_points}")
        if not 2 <= self.n_neighbors < n_points:
            raise UsageError(f"--neighbors must be between 2 and the number of features less one "
                             f"({n_points - 1}), not {self.n_neighbors}")
        if not 0 <= self.min_dist <= 1:
            raise UsageError(f"--min-dist must be between 0 and 1, not {self.min_dist}")


def layout(directions: np.ndarray, params: MapParams = MapParams()) -> np.ndarray:
    """[n, 2] coordinates in [0, 1] for ``directions`` [n, d] (rows of zeros are placed at the centre)."""
    import umap  # umap-learn; imported here: it compiles with numba on first use

    x = np.asarray(directions, dtype=np.float32)
    params.check(len(x))
    norms = np.linalg.norm(x, axis=1)
    alive = norms > 0
    coords = np.full((len(x), 2), 0.5, dtype=np.float32)
    if alive.sum() < max(4, params.n_neighbors + 1):
        raise UsageError(f"only {int(alive.sum())} of {len(x)} features have a nonzero decoder direction; "
                         "too few for a map")
    reducer = umap.UMAP(n_neighbors=params.n_neighbors, min_dist=params.min_dist, metric="cosine",
                        random_state=params.seed, n_jobs=1, n_components=2)
    found = reducer.fit_transform(x[alive])
    # Scaled by the central 99% of points, so a few far-off islands do not squeeze the rest into a corner;
    # the islands are kept at the border.
    lo, hi = np.percentile(found, 0.5, axis=0), np.percentile(found, 99.5, axis=0)
    coords[alive] = np.clip((found - lo) / np.where(hi > lo, hi - lo, 1.0), 0.0, 1.0)
    return coords
