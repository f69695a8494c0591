"""Benchmark explanation search: the vector index on synthetic vectors, and the whole search on the demo.

1. Synthetic: ``--n`` unit vectors (384 dims, as MiniLM's) in the usearch index, against exact search.
   The vectors are clustered (points around random centres): isotropic random vectors in 384 dims have no
   meaningful nearest neighbours (every pair is nearly orthogonal), so no graph index finds them and the
   figure would say nothing about sentence embeddings. Exact top-10 of the queries is computed while the
   vectors are generated, chunk by chunk, so 1M vectors never sit in memory twice.
   Reported: build rate, p50/p99 search latency and recall@10 per ``expansion_search``, the same with a
   filter (10% of keys allowed), and the exact scan of ``EXACT_BELOW`` vectors (the cut-off's rationale).
2. Demo: when the data dir holds a database with explanations, ``search_explanations`` end to end (query
   embedding included) in each mode, and recall@10 of the graph against the exact scan on those texts. The
   index is built in a temporary folder, so the data dir's own index is left alone.

    python bench/search.py                  # 1M vectors: building takes a while on 2 cores
    python bench/search.py --n 100000 --dtypes f16,f32

The last line of output is one JSON object with the figures.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from featurepedia import runtime

os.environ.setdefault("HF_HUB_OFFLINE", "1")
# As `featurepedia serve` does before torch loads: without a passive OpenMP wait policy, embedding one query on
# 2 busy cores took ~500 ms instead of ~14 ms (threads spinning against other processes).
runtime.configure()

import numpy as np  # noqa: E402

from featurepedia.search import EMBEDDING_DIMS, VectorIndex  # noqa: E402
from featurepedia.search.vectors import EXACT_BELOW  # noqa: E402

CHUNK = 50_000
K = 10
QUERIES = [  # the kinds of things people look for in explanations of language-model features
    "numbers", "dates and years", "names of people", "cities and countries", "punctuation at the end of a sentence",
    "the word 'the'", "programming code", "negative emotions", "plural nouns", "verbs in the past tense",
    "animals", "food and cooking", "sports", "music", "medical terms", "legal documents", "questions",
    "quotation marks", "start of a new paragraph", "money and prices",
]


def clustered_chunks(n: int, seed: int, clusters: int = 2000, noise: float = 0.6):
    """Unit vectors [<=CHUNK, 384] around ``clusters`` fixed random centres, in chunks."""
    centres = np.random.default_rng(1234).standard_normal((clusters, EMBEDDING_DIMS)).astype(np.float32)
    rng = np.random.default_rng(seed)
    for start in range(0, n, CHUNK):
        size = min(CHUNK, n - start)
        x = centres[rng.integers(0, clusters, size)]
        x = x + noise * rng.standard_normal((size, EMBEDDING_DIMS)).astype(np.float32)
        yield start, x / np.linalg.norm(x, axis=1, keepdims=True)


def percentile_ms(times: list[float], q: float) -> float:
    return round(1000 * float(np.percentile(times, q)), 3)


def synthetic(n: int, n_queries: int, dtype: str, efs: list[int]) -> dict[str, Any]:
    """Build the index over n vectors and measure search latency and recall@10 against exact search."""
    queries = next(clustered_chunks(n_queries, seed=99))[1]
    best_sims = np.full((n_queries, K), -np.inf, dtype=np.float32)
    best_keys = np.zeros((n_queries, K), dtype=np.int64)
    index = VectorIndex(dtype=dtype, exact_below=0)
    t0 = time.perf_counter()
    for start, chunk in clustered_chunks(n, seed=0):
        index.add(np.arange(start, start + len(chunk)), chunk)
        # Exact reference on the stored (rounded) values, merged chunk by chunk.
        stored = chunk.astype(np.float16).astype(np.float32) if dtype == "f16" else chunk
        sims = queries @ stored.T
        all_sims = np.concatenate([best_sims, sims], axis=1)
        all_keys = np.concatenate([best_keys, np.broadcast_to(np.arange(start, start + len(chunk)), sims.shape)],
                                  axis=1)
        top = np.argsort(-all_sims, axis=1)[:, :K]
        best_sims, best_keys = np.take_along_axis(all_sims, top, 1), np.take_along_axis(all_keys, top, 1)
        done = start + len(chunk)
        rate = done / (time.perf_counter() - t0)
        print(f"  [{dtype}] built {done:,}/{n:,} ({rate:,.0f} vectors/s, ~{(n - done) / rate:,.0f} s left)",
              file=sys.stderr, flush=True)
    build_s = time.perf_counter() - t0
    out: dict[str, Any] = {"n": n, "dtype": dtype, "build_s": round(build_s, 1),
                           "build_per_s": round(n / build_s), "by_ef": {}}
    expected = [set(row.tolist()) for row in best_keys]
    for ef in efs:
        index.expansion_search = ef
        out["by_ef"][ef] = measure(index, queries, expected)
    allowed = set(range(0, n, 10))
    index.expansion_search = efs[0]
    times = []
    for q in queries:
        t = time.perf_counter()
        index.search(q, K, allowed)
        times.append(time.perf_counter() - t)
    out["filtered_10pct_p50_ms"] = percentile_ms(times, 50)
    return out


def measure(index: VectorIndex, queries: np.ndarray, expected: list[set[int]]) -> dict[str, float]:
    for q in queries[:20]:  # warm up
        index.search(q, K)
    times, found = [], 0
    for q, exp in zip(queries, expected, strict=True):
        t = time.perf_counter()
        hits = index.search(q, K)
        times.append(time.perf_counter() - t)
        found += len({h.key for h in hits} & exp)
    return {"p50_ms": percentile_ms(times, 50), "p99_ms": percentile_ms(times, 99),
            "recall_at_10": round(found / (K * len(queries)), 4)}


def scan_cutoff(dtype: str) -> dict[str, float]:
    """Latency of the exact scan at the cut-off size, to compare with the graph search."""
    _, x = next(clustered_chunks(EXACT_BELOW, seed=5))
    index = VectorIndex(dtype=dtype)
    index.add(np.arange(len(x)), x)
    times = []
    for q in x[:200]:
        t = time.perf_counter()
        index.search(q, K)
        times.append(time.perf_counter() - t)
    return {"n": EXACT_BELOW, "p50_ms": percentile_ms(times, 50)}


def demo(data_dir: Path | None) -> dict[str, Any] | None:
    """End-to-end search on the demo database's explanations; None (with a message) when there is none."""
    if data_dir is not None:
        os.environ["FEATUREPEDIA_DATA_DIR"] = str(data_dir)
    from featurepedia.settings import get_settings, reset_settings

    reset_settings()
    settings = get_settings()
    if not settings.database_url and not (settings.data_dir / "featurepedia.sqlite3").is_file():
        print(f"no demo database in {settings.data_dir}; run `featurepedia demo` (or give --data-dir) for "
              "the end-to-end figures", file=sys.stderr)
        return None
    from featurepedia.web import setup

    setup()
    from featurepedia.web.explanations import search_index
    from featurepedia.web.explanations.models import Explanation
    from featurepedia.web.explanations.search import Mode, search_explanations

    n = Explanation.objects.filter(status=Explanation.Status.LIVE).count()
    if not n:
        print("the demo database has no explanations; run `featurepedia demo` first", file=sys.stderr)
        return None
    out: dict[str, Any] = {"explanations": n}
    with tempfile.TemporaryDirectory() as tmp:
        search_index.index_path = lambda: Path(tmp) / "explanations.usearch"  # leave the data dir's index alone
        t = time.perf_counter()
        search_index.rebuild_index()
        out["build_s"] = round(time.perf_counter() - t, 2)
        search_explanations("warm up")
        modes: tuple[Mode, ...] = ("semantic", "text", "hybrid")
        for mode in modes:
            times = []
            # A new text each time, across modes too: embeddings of texts already seen come from a cache.
            suffixes = {"semantic": ("", " in a text", " words"), "text": ("", " in a text", " words"),
                        "hybrid": (" tokens", " features", " examples")}[mode]
            for suffix in suffixes:
                for q in QUERIES:
                    t = time.perf_counter()
                    search_explanations(q + suffix, mode=mode)
                    times.append(time.perf_counter() - t)
            out[f"{mode}_p50_ms"] = percentile_ms(times, 50)
            out[f"{mode}_p99_ms"] = percentile_ms(times, 99)
        index = search_index.loaded_index()
        if index is None:  # the searches above load it; None would mean they never reached the index
            raise SystemExit("the search index was not loaded by the searches; nothing to measure recall on")
        out["graph_recall_at_10"] = demo_graph_recall(index.vectors)
    return out


def demo_graph_recall(scan: VectorIndex) -> float:
    """Recall@10 of the HNSW graph against the exact scan on the demo's real embeddings."""
    from featurepedia.web.explanations.search_index import embed_texts

    keys = scan.keys()
    graph = VectorIndex(exact_below=0)
    graph.add(keys, scan.get(keys))
    found = 0
    for q in embed_texts(QUERIES):
        exact = {h.key for h in scan.search(q, K)}
        found += len(exact & {h.key for h in graph.search(q, K)})
    return round(found / (K * len(QUERIES)), 4)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=1_000_000, help="synthetic vectors in the index (0: skip)")
    parser.add_argument("--queries", type=int, default=500)
    parser.add_argument("--dtypes", default="f16", help="storage types to compare, e.g. f16,f32")
    parser.add_argument("--ef", default="64,128", help="expansion_search values to measure")
    parser.add_argument("--data-dir", type=Path, default=None, help="data dir of the demo (default: settings)")
    parser.add_argument("--skip-demo", action="store_true")
    args = parser.parse_args()
    efs = [int(e) for e in args.ef.split(",")]
    result: dict[str, Any] = {"synthetic": {}, "scan": {}}
    for dtype in args.dtypes.split(",") if args.n > 0 else []:
        print(f"synthetic: {args.n:,} clustered unit vectors, {dtype}", file=sys.stderr)
        result["synthetic"][dtype] = synthetic(args.n, args.queries, dtype, efs)
        result["scan"][dtype] = scan_cutoff(dtype)
        print(json.dumps(result["synthetic"][dtype]), file=sys.stderr)
    result["demo"] = None if args.skip_demo else demo(args.data_dir)
    if result["synthetic"]:
        first = next(iter(result["synthetic"].values()))["by_ef"][efs[-1]]
        result["search_p50_ms"], result["recall_at_10"] = first["p50_ms"], first["recall_at_10"]
    print(json.dumps(result))


if __name__ == "__main__":
    main()
