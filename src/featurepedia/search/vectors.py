"""A vector index over unit embeddings, keyed by integer ids (explanation primary keys), on usearch.

Approximate (HNSW) search once the index is large, exact search below ``exact_below`` vectors, where a full
scan is as fast and never misses. Cosine metric. Measured with bench/search.py (docs/search.md):

- vectors are stored as float16: over 100k clustered 384-dim vectors it searched in 0.42 ms against 0.94 ms
  for float32 and built 883 against 666 vectors/s, in half the memory, with the same recall@10 (0.999);
- ``expansion_search`` is 128: over 1M vectors it gave recall@10 0.991 at 0.81 ms p50, against 0.947 at
  0.66 ms with usearch's default of 64.

Filtering ("this model", "these sources"): the usearch 2.26 Python wrapper exposes no predicate for its
filtered graph search, and a Python callback per visited node would cost more than it saves. So a small
allowed set is searched exactly (its vectors fetched by key and scanned), and a large one, or a predicate,
over-fetches from the graph, doubling until ``k`` allowed hits are found, and ends in an exact scan at worst.

Thread safety: any number of concurrent searches, and one writer at a time, which waits for them (a
readers-writer lock). In a stress test usearch 2.26 let searches and adds overlap even without it, but its
storage growth, saving and the rebuild below are not documented as safe beside searches, and reports of
crashes under mixed use exist (unum-cloud/USearch#441); a search waits at most for one add batch.
"""

from __future__ import annotations

import math
import os
import threading
from collections.abc import Callable, Collection, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import NamedTuple

import numpy as np
from usearch.index import Index

EMBEDDING_DIMS = 384  # all-MiniLM-L6-v2
# Below this many vectors (or allowed keys) a scan is used: it is exact, and on 2 busy cores a scan of 10k
# float16 384-dim vectors took 0.23 ms against 0.42 ms for a graph search over 20k (bench/search.py).
EXACT_BELOW = 10_000
# Tombstones left by remove/update slow the graph and are never reused: rebuild once they reach this share.
MAX_TOMBSTONE_SHARE = 0.25

Allowed = Collection[int] | Callable[[int], bool]


class Hit(NamedTuple):
    """One search result: the key and its cosine similarity to the query (1 is identical)."""

    key: int
    similarity: float


class RWLock:
    """Many readers or one writer; a waiting writer holds back new readers so it is not starved."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._readers = 0
        self._writer = False
        self._waiting_writers = 0

    @contextmanager
    def read(self) -> Iterator[None]:
        with self._cond:
            while self._writer or self._waiting_writers:
                self._cond.wait()
            self._readers += 1
        try:
            yield
        finally:
            with self._cond:
                self._readers -= 1
                if not self._readers:
                    self._cond.notify_all()

    @contextmanager
    def write(self) -> Iterator[None]:
        with self._cond:
            self._waiting_writers += 1
            while self._writer or self._readers:
                self._cond.wait()
            self._waiting_writers -= 1
            self._writer = True
        try:
            yield
        finally:
            with self._cond:
                self._writer = False
                self._cond.notify_all()


class VectorIndex:
    """Unit vectors by integer key: upsert, remove, top-k cosine search with an optional filter, save/load."""

    def __init__(self, ndim: int = EMBEDDING_DIMS, dtype: str = "f16", connectivity: int = 16,
                 expansion_add: int = 128, expansion_search: int = 128, exact_below: int = EXACT_BELOW) -> None:
        self.ndim, self.dtype, self.exact_below = ndim, dtype, exact_below
        self.connectivity, self.expansion_add, self._expansion_search = connectivity, expansion_add, expansion_search
        self._index = self._new_index()
        self._tombstones = 0
        self._lock = RWLock()

    def _new_index(self) -> Index:
        return Index(ndim=self.ndim, metric="cos", dtype=self.dtype, connectivity=self.connectivity,
                     expansion_add=self.expansion_add, expansion_search=self._expansion_search)

    def __len__(self) -> int:
        return len(self._index)

    @property
    def expansion_search(self) -> int:
        """Candidates kept during a graph search (HNSW's ef): higher finds more true neighbours, slower."""
        return self._expansion_search

    @expansion_search.setter
    def expansion_search(self, ef: int) -> None:
        self._expansion_search = ef
        # The stub declares this property read-only; usearch defines a setter (the file does not store it).
        setattr(self._index, "expansion_search", ef)  # noqa: B010

    def __contains__(self, key: object) -> bool:
        with self._lock.read():
            return isinstance(key, int | np.integer) and bool(self._index.contains(int(key)))

    def keys(self) -> np.ndarray:
        """Every key in the index, int64 [n], in no particular order."""
        with self._lock.read():
            return np.asarray(self._index.keys, dtype=np.int64).copy()

    def add(self, keys: np.ndarray | list[int], vectors: np.ndarray) -> None:
        """Insert vectors [n, ndim] under ``keys``; a key already present is replaced."""
        key_arr = np.asarray(keys, dtype=np.uint64).reshape(-1)
        vecs = self._as_matrix(vectors)
        if len(key_arr) != len(vecs):
            raise ValueError(f"{len(key_arr)} keys for {len(vecs)} vectors; give one key per vector")
        if len(np.unique(key_arr)) != len(key_arr):
            raise ValueError("the same key appears twice in one add; give each vector its own key")
        if not len(key_arr):
            return
        with self._lock.write():
            present = np.asarray(self._index.contains(key_arr), dtype=bool)
            if present.any():
                self._index.remove(key_arr[present])
                self._tombstones += int(present.sum())
            self._index.add(key_arr, vecs)
            self._compact_if_needed()

    def remove(self, keys: np.ndarray | list[int]) -> int:
        """Remove keys (absent ones are ignored); returns how many were present."""
        key_arr = np.asarray(keys, dtype=np.uint64).reshape(-1)
        if not len(key_arr):
            return 0
        with self._lock.write():
            present = key_arr[np.asarray(self._index.contains(key_arr), dtype=bool)]
            if len(present):
                self._index.remove(present)
                self._tombstones += len(present)
                self._compact_if_needed()
            return len(present)

    def _compact_if_needed(self) -> None:
        if self._tombstones <= max(1000, MAX_TOMBSTONE_SHARE * len(self._index)):
            return
        keys = np.asarray(self._index.keys, dtype=np.uint64).copy()
        vectors = self._vectors(keys)
        fresh = self._new_index()
        if len(keys):
            fresh.add(keys, vectors)
        self._index, self._tombstones = fresh, 0

    def get(self, keys: np.ndarray | list[int]) -> np.ndarray:
        """The stored vectors of these keys, float32 [len(keys), ndim]; an absent key raises KeyError."""
        with self._lock.read():
            return self._vectors(np.asarray(keys, dtype=np.uint64).reshape(-1))

    def _vectors(self, keys: np.ndarray) -> np.ndarray:
        """The stored vectors of present keys, float32 [len(keys), ndim] (caller holds a lock)."""
        if not len(keys):
            return np.zeros((0, self.ndim), dtype=np.float32)
        rows = self._index.get(np.asarray(keys, dtype=np.uint64), dtype="f32")
        if isinstance(rows, np.ndarray):
            return rows.reshape(len(keys), self.ndim).astype(np.float32, copy=False)
        if rows is None or any(r is None for r in rows):
            raise KeyError("a key to fetch is not in the index")
        return np.stack([np.asarray(r, dtype=np.float32) for r in rows if r is not None])

    def search(self, query: np.ndarray, k: int = 10, allowed: Allowed | None = None) -> list[Hit]:
        """The ``k`` keys most similar to ``query`` [ndim], best first.

        Args:
            allowed: only these keys (a set or other collection), or only keys for which it returns True.
        """
        q = self._as_matrix(query)
        if len(q) != 1:
            raise ValueError(f"search takes one query vector; got {len(q)}")
        if k <= 0:
            return []
        with self._lock.read():
            n = len(self._index)
            if not n:
                return []
            if allowed is None:
                if n < self.exact_below:
                    return self._graph_search(q, k, exact=True)
                return self._graph_search(q, k)
            if not callable(allowed) and len(allowed) < self.exact_below:
                return self._scan(q, k, np.fromiter((int(a) for a in allowed), dtype=np.uint64, count=len(allowed)))
            return self._filtered(q, k, n, allowed)

    def _filtered(self, q: np.ndarray, k: int, n: int, allowed: Allowed) -> list[Hit]:
        admit: Callable[[int], bool] = allowed if callable(allowed) else allowed.__contains__
        share = 0.25 if callable(allowed) else max(len(allowed) / n, 1e-6)
        fetch = min(n, max(4 * k, math.ceil(2 * k / share)))
        exact = n < self.exact_below
        while True:
            hits = self._graph_search(q, fetch, exact=exact)
            kept = [h for h in hits if admit(h.key)]
            if len(kept) >= k or fetch >= n:
                if len(kept) >= k or exact:
                    return kept[:k]
                # The graph search returned fewer than n hits; only a scan sees every vector.
                return [h for h in self._graph_search(q, n, exact=True) if admit(h.key)][:k]
            fetch = min(n, fetch * 4)

    def _graph_search(self, q: np.ndarray, count: int, exact: bool = False) -> list[Hit]:
        found = self._index.search(q[0], count, exact=exact, threads=1)
        return [Hit(int(key), 1.0 - float(d)) for key, d in zip(found.keys, found.distances, strict=True)]

    def _scan(self, q: np.ndarray, k: int, keys: np.ndarray) -> list[Hit]:
        keys = keys[np.asarray(self._index.contains(keys), dtype=bool)] if len(keys) else keys
        if not len(keys):
            return []
        vectors = self._vectors(keys)
        # Stored float16 vectors are unit length only to ~1e-3; normalise so scores match the graph's cosine.
        sims = (vectors @ q[0]) / np.maximum(np.linalg.norm(vectors, axis=1) * np.linalg.norm(q[0]), 1e-12)
        top = np.argpartition(-sims, min(k, len(sims)) - 1)[:k] if len(sims) > k else np.arange(len(sims))
        top = top[np.argsort(-sims[top], kind="stable")]
        return [Hit(int(keys[i]), float(sims[i])) for i in top]

    def _as_matrix(self, vectors: np.ndarray) -> np.ndarray:
        arr = np.asarray(vectors, dtype=np.float32)
        arr = arr.reshape(1, -1) if arr.ndim == 1 else arr
        if arr.ndim != 2 or arr.shape[1] != self.ndim:
            raise ValueError(f"vectors have shape {tuple(np.shape(vectors))}; this index holds {self.ndim}-dim "
                             "vectors (one per row)")
        if not np.isfinite(arr).all():
            raise ValueError("vectors contain NaN or infinite values; embed the text again")
        return np.ascontiguousarray(arr)

    def save(self, path: str | Path) -> None:
        """Write the index to ``path`` atomically: a reader of ``path`` sees the old file or the new one."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
        try:
            with self._lock.read():
                self._index.save(str(tmp))
            with open(tmp, "rb") as f:
                os.fsync(f.fileno())
            os.replace(tmp, path)
        finally:
            tmp.unlink(missing_ok=True)

    @classmethod
    def load(cls, path: str | Path, expansion_search: int = 128, exact_below: int = EXACT_BELOW) -> VectorIndex:
        """Read an index written by :meth:`save`; a missing or unreadable file raises ValueError."""
        path = Path(path)
        meta, restored = None, None
        try:
            meta = Index.metadata(str(path)) if path.is_file() else None
            restored = Index.restore(str(path)) if meta is not None else None
        except (ValueError, RuntimeError):
            pass
        if restored is None or meta is None:
            raise ValueError(f"{path} is missing or is not a vector index saved by VectorIndex.save; "
                             "delete it and build the index again")
        dtype = str(restored.dtype).rsplit(".", 1)[-1].lower()
        out = cls(ndim=restored.ndim, dtype=dtype, connectivity=restored.connectivity,
                  expansion_add=restored.expansion_add, expansion_search=expansion_search, exact_below=exact_below)
        out._index = restored
        out.expansion_search = expansion_search  # not stored in the file
        out._tombstones = int(meta.get("count_deleted", 0))
        return out
