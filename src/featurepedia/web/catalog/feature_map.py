"""Computing and storing a source's map (`featurepedia map`, the demo's background process)."""

from __future__ import annotations

import time

import numpy as np
import torch

from featurepedia.errors import NotFoundError
from featurepedia.maps import MapParams, layout
from featurepedia.web.catalog.models import Source, SourceMap


def stored_source(model_id: str, source_id: str) -> Source:
    source = Source.objects.select_related("model").filter(model__slug=model_id, slug=source_id).first()
    if source is None:
        raise NotFoundError(f"no stored source {model_id}/{source_id}; build it first with "
                            f"`featurepedia build --model {model_id} --source {source_id}`")
    return source


def decoder_directions(source: Source) -> np.ndarray:
    """The stored source's decoder directions in the residual stream [n_features, d_model], from its model
    (and SAE weights): a neuron's row of the MLP output matrix, an SAE feature's W_dec row."""
    from featurepedia.lm.pool import get_model
    from featurepedia.sources.resolve import source_for

    sae_path = (source.config.get("config") or {}).get("sae_path")
    model = get_model(source.model.slug)
    built = source_for(model, source.slug, sae_path, hook_name=source.hook_name if sae_path else None)
    with torch.no_grad():
        directions = model.to_residual(built.hook_name, built.decoder_directions())
    return directions.detach().float().cpu().numpy()


def compute_map(model_id: str, source_id: str, params: MapParams | None = None) -> SourceMap:
    params = params or MapParams()
    source = stored_source(model_id, source_id)
    directions = decoder_directions(source)
    started = time.perf_counter()
    coords = layout(directions, params)
    seconds = time.perf_counter() - started
    row, _ = SourceMap.objects.update_or_create(source=source, defaults={
        "x": [round(float(v), 5) for v in coords[:, 0]], "y": [round(float(v), 5) for v in coords[:, 1]],
        "params": {"method": "umap", "metric": "cosine", "n_neighbors": params.n_neighbors,
                   "min_dist": params.min_dist, "seed": params.seed, "seconds": round(seconds, 1),
                   "n_features": len(coords)}})
    return row


def has_map(model_id: str, source_id: str) -> bool:
    return SourceMap.objects.filter(source__model__slug=model_id, source__slug=source_id).exists()
