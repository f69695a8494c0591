"""The vector index against brute-force exact search on synthetic unit vectors."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from featurepedia.search import VectorIndex
from featurepedia.search import vectors as vectors_module

DIMS = 384


def clustered(n: int, seed: int = 0, clusters: int = 50) -> np.ndarray:
    """Unit vectors around fixed random centres, like sentence embeddings (isotropic noise has no real
    neighbours); ``seed`` draws other points around the same centres."""
    centres = np.random.default_rng(1234).standard_normal((clusters, DIMS)).astype(np.float32)
    rng = np.random.default_rng(seed)
    x = centres[rng.integers(0, clusters, n)] + 0.6 * rng.standard_normal((n, DIMS)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def exact_top(data: np.ndarray, keys: np.ndarray, q: np.ndarray, k: int, mask: np.ndarray | None = None) -> list[int]:
    # The index stores float16: rank with the same rounding, or near-ties swap places.
    sims = data.astype(np.float16).astype(np.float32) @ q
    if mask is not None:
        sims = np.where(mask, sims, -np.inf)
    order = np.argsort(-sims, kind="stable")[:k]
    return [int(keys[i]) for i in order if np.isfinite(sims[i])]


@pytest.fixture(scope="module")
def data() -> np.ndarray:
    return clustered(3000)


@pytest.fixture(scope="module")
def graph(data: np.ndarray) -> VectorIndex:
    """3000 vectors searched through the HNSW graph (the exact-scan cut-off is set below the size)."""
    index = VectorIndex(exact_below=100)
    index.add(np.arange(1000, 1000 + len(data)), data)
    return index


def recall(index: VectorIndex, data: np.ndarray, queries: np.ndarray, k: int = 10, mask=None, allowed=None) -> float:
    keys = np.arange(1000, 1000 + len(data))
    found = 0
    for q in queries:
        expected = set(exact_top(data, keys, q, k, mask))
        found += len(expected & {h.key for h in index.search(q, k, allowed)})
    return found / (k * len(queries))


def test_graph_search_recall_against_exact(graph, data):
    assert recall(graph, data, clustered(50, seed=1)) >= 0.95


def test_exact_path_below_the_cutoff_is_exact(data):
    index = VectorIndex()  # 3000 < EXACT_BELOW: scans
    index.add(np.arange(1000, 1000 + len(data)), data)
    assert recall(index, data, clustered(20, seed=2)) == 1.0


def test_similarities_are_cosines_best_first(graph, data):
    hits = graph.search(data[7], 5)
    assert hits[0].key == 1007 and hits[0].similarity == pytest.approx(1.0, abs=2e-3)
    sims = [h.similarity for h in hits]
    assert sims == sorted(sims, reverse=True)
    assert sims[1] == pytest.approx(float(data[7] @ data[hits[1].key - 1000]), abs=2e-3)


@pytest.mark.parametrize("exact_below", [100, 10_000])
def test_adding_a_key_again_replaces_it(data, exact_below):
    index = VectorIndex(exact_below=exact_below)
    index.add(np.arange(500), data[:500])
    index.add([3], data[600:601])
    assert len(index) == 500
    assert index.search(data[600], 1)[0].key == 3
    assert 3 not in {h.key for h in index.search(data[3], 3)}


@pytest.mark.parametrize("exact_below", [100, 10_000])
def test_removed_keys_are_never_returned(data, exact_below):
    index = VectorIndex(exact_below=exact_below)
    index.add(np.arange(500), data[:500])
    assert index.remove([5, 6, 99_999]) == 2
    assert len(index) == 498 and 5 not in index and 7 in index
    assert {5, 6}.isdisjoint(h.key for h in index.search(data[5], 20))
    assert index.search(data[5], 5, allowed={5, 6}) == []


def test_many_updates_compact_the_graph_and_keep_results(data, monkeypatch):
    monkeypatch.setattr(vectors_module, "MAX_TOMBSTONE_SHARE", 0.1)
    index = VectorIndex(exact_below=100)
    index.add(np.arange(1500), data[:1500])
    for start in range(0, 1500, 100):  # every key replaced by another vector
        keys = np.arange(start, start + 100)
        index.add(keys, data[keys + 1500])
    assert len(index) == 1500 and index._tombstones < 1500
    assert index.search(data[1500 + 42], 1)[0].key == 42


def test_small_allowed_set_is_searched_exactly(graph, data):
    keys = np.arange(1000, 1000 + len(data))
    allowed = set(range(1000, 1000 + len(data), 37))  # 82 keys, under the graph index's cut-off of 100
    mask = np.isin(keys, list(allowed))
    assert recall(graph, data, clustered(20, seed=3), mask=mask, allowed=allowed) == 1.0


def test_large_allowed_set_and_predicate_overfetch(data):
    index = VectorIndex(exact_below=100)
    index.add(np.arange(1000, 1000 + len(data)), data)
    keys = np.arange(1000, 1000 + len(data))
    allowed = {int(k) for k in keys if k % 3 == 0}
    mask = keys % 3 == 0
    queries = clustered(30, seed=4)
    assert recall(index, data, queries, mask=mask, allowed=allowed) >= 0.9
    assert recall(index, data, queries, mask=mask, allowed=lambda key: key % 3 == 0) >= 0.9
    for q in queries[:5]:
        assert all(h.key % 3 == 0 for h in index.search(q, 10, allowed=lambda key: key % 3 == 0))


def test_a_rare_predicate_still_finds_its_keys(graph, data):
    hits = graph.search(data[0], 5, allowed=lambda key: key in (1500, 2500))
    assert sorted(h.key for h in hits) == [1500, 2500]


def test_save_load_round_trip(tmp_path, graph, data):
    path = tmp_path / "sub" / "index.usearch"
    graph.save(path)
    assert [p.name for p in path.parent.iterdir()] == ["index.usearch"]  # no temporary file left behind
    loaded = VectorIndex.load(path, exact_below=100)
    assert len(loaded) == len(graph) and loaded.dtype == "f16" and loaded.ndim == DIMS
    for q in clustered(5, seed=5):
        assert loaded.search(q, 10) == graph.search(q, 10)
    loaded.add([1000], data[1])  # a loaded index is writable
    assert loaded.search(data[1], 2)[0].key in (1000, 1001)


def test_save_replaces_an_existing_file(tmp_path, data):
    path = tmp_path / "index.usearch"
    index = VectorIndex()
    index.add(np.arange(10), data[:10])
    index.save(path)
    index.remove([0])
    index.save(path)
    assert len(VectorIndex.load(path)) == 9


def test_loading_a_missing_or_foreign_file_says_what_to_do(tmp_path):
    with pytest.raises(ValueError, match="missing or is not a vector index"):
        VectorIndex.load(tmp_path / "nope.usearch")
    (tmp_path / "junk.usearch").write_bytes(b"not an index at all" * 10)
    with pytest.raises(ValueError, match="build the index again"):
        VectorIndex.load(tmp_path / "junk.usearch")


def test_bad_vectors_are_refused(data):
    index = VectorIndex()
    with pytest.raises(ValueError, match="384-dim"):
        index.add([1], np.ones((1, 10), dtype=np.float32))
    with pytest.raises(ValueError, match="NaN"):
        index.add([1], np.full((1, DIMS), np.nan, dtype=np.float32))
    with pytest.raises(ValueError, match="twice"):
        index.add([1, 1], data[:2])
    with pytest.raises(ValueError, match="one key per vector"):
        index.add([1, 2, 3], data[:2])
    assert index.search(data[0], 5) == [] and len(index) == 0


@pytest.mark.parametrize("exact_below", [10_000, 100])
def test_concurrent_readers_and_one_writer(data, exact_below):
    """Searches during adds (which grow the storage) and removes: no error, no wrong answer. The exact scan
    must always find each stable vector; the graph is approximate even alone (about 1 in 1000 misses here)."""
    index = VectorIndex(exact_below=exact_below)
    index.add(np.arange(1000), data[:1000])
    errors: list[BaseException] = []
    found: list[bool] = []
    stop = threading.Event()

    def read(offset: int) -> None:
        try:
            i = offset
            while not stop.is_set():
                hits = index.search(data[i % 1000], 3)
                assert len(hits) == 3 and all(-1.01 <= h.similarity <= 1.01 for h in hits)
                found.append(hits[0].key == i % 1000)
                i += 7
        except BaseException as err:  # noqa: BLE001  (reported by the main thread)
            errors.append(err)
            stop.set()

    readers = [threading.Thread(target=read, args=(n,)) for n in range(4)]
    for t in readers:
        t.start()
    try:
        for start in range(1000, 3000, 100):  # grows past the initial capacity while readers search
            keys = np.arange(start, start + 100)
            index.add(keys, data[keys])
            index.remove(keys[:50])
    finally:
        stop.set()
        for t in readers:
            t.join()
    assert not errors, errors[0]
    assert len(index) == 1000 + 20 * 50 and len(found) > 20
    assert (all(found) if exact_below > len(index) else np.mean(found) >= 0.98)
