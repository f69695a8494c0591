"""What live inference may touch, from the catalog: stored models, their SAE weights, dense features.

The inference service knows no database; the web processes (API routes and pages) call it through
:func:`client`, which tells it which model ids exist here (a request can never make it load a hub id or
a folder named in a URL) and where each SAE source's weights are, as recorded by the build.
"""

from __future__ import annotations

import threading

from django.db import connection

from featurepedia.inference.client import InferenceClient, get_client
from featurepedia.settings import get_settings
from featurepedia.web.catalog.models import Feature, LanguageModel, Source


def stored_model(model_id: str) -> bool:
    """True when the catalog has the model (only those are loaded for live requests)."""
    return LanguageModel.objects.filter(slug=model_id).exists()


def stored_source_path(model_id: str, source_id: str) -> str | None:
    """The SAE folder (or hub spec) a stored SAE source was built from; None for neurons or an unknown source.

    The inference service calls this from its worker thread, once per source: that thread's database
    connection is closed after the query, or every service would keep one open for good.
    """
    try:
        config = (Source.objects.filter(model__slug=model_id, slug=source_id)
                  .values_list("config", flat=True).first())
    finally:
        if threading.current_thread() is not threading.main_thread() and not connection.in_atomic_block:
            connection.close()
    if not config:
        return None
    path = (config.get("config") or {}).get("sae_path")
    return str(path) if path else None


def client() -> InferenceClient:
    """The process's inference client (in-process in embedded mode, HTTP with FEATUREPEDIA_INFERENCE_URL)."""
    return get_client(get_settings(), source_path=stored_source_path, allow_model=stored_model)


def dense_features(model_id: str, source_id: str, threshold: float | None) -> list[int]:
    """Indices of a source's features whose stored density is above ``threshold`` (a fraction, 0-1);
    live searches leave them out, as Neuronpedia's densityThreshold does. None or >= 1: none left out."""
    if threshold is None or threshold >= 1:
        return []
    return list(Feature.objects.filter(source__model__slug=model_id, source__slug=source_id,
                                       density__gt=threshold).values_list("index", flat=True))
