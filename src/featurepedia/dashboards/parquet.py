"""The Parquet bundle: ``features.parquet``, ``examples.parquet``, ``contexts.parquet`` and ``run.json``.

It is both a sink for a dashboards run and the export/import format of a source's data. Each context's
tokens are stored once in ``contexts.parquet``; an example holds its context id and per-token values
(features share contexts, so this is several times smaller and faster than tokens per example).
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from featurepedia.dashboards.results import (
    ContextText,
    Example,
    ExampleColumns,
    ExampleList,
    FeatureDashboard,
    RunInfo,
)
from featurepedia.errors import FeaturepediaError

FEATURES = "features.parquet"
EXAMPLES = "examples.parquet"
CONTEXTS = "contexts.parquet"
RUN = "run.json"
FORMAT_VERSION = 3

FEATURE_SCHEMA = pa.schema([
    ("index", pa.int64()), ("max_act", pa.float64()), ("min_act", pa.float64()), ("density", pa.float64()),
    ("hist_counts", pa.list_(pa.int64())), ("hist_lo", pa.float64()), ("hist_hi", pa.float64()),
    ("top_logits_tokens", pa.list_(pa.string())), ("top_logits_values", pa.list_(pa.float64())),
    ("bottom_logits_tokens", pa.list_(pa.string())), ("bottom_logits_values", pa.list_(pa.float64())),
    ("neighbour_indices", pa.list_(pa.int64())), ("neighbour_cosines", pa.list_(pa.float64())),
])
EXAMPLE_SCHEMA = pa.schema([
    ("feature", pa.int64()), ("bin", pa.string()), ("rank", pa.int64()), ("context", pa.int64()),
    ("values", pa.list_(pa.float64())), ("max_value", pa.float64()), ("max_index", pa.int64()),
])
CONTEXT_SCHEMA = pa.schema([
    ("context", pa.int64()), ("token_ids", pa.list_(pa.int64())), ("tokens", pa.list_(pa.string())),
    ("notes", pa.string()), ("special", pa.list_(pa.int64())),
])


class BundleError(FeaturepediaError, ValueError):
    """A Parquet bundle is missing or unreadable."""


class ParquetSink:
    """Writes a dashboards run as a Parquet bundle, streaming chunks of features."""

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)
        self._features: pq.ParquetWriter | None = None
        self._examples: pq.ParquetWriter | None = None
        self._contexts: pq.ParquetWriter | None = None
        self._written: set[int] = set()  # ids of the contexts written
        self._by_tokens: dict[tuple[int, ...], int] = {}  # ids given to contexts that had none
        # Tables are built here, then written (compressed, to disk) on a thread while the caller builds
        # the next chunk: write_table releases the GIL. One write at a time, in order.
        self._writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="parquet")
        self._pending: Future[None] | None = None

    def begin(self, run: RunInfo) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        # A bundle is complete once finish() writes run.json: an earlier bundle's must not vouch for the
        # files rewritten here if this run fails.
        (self.folder / RUN).unlink(missing_ok=True)
        self._features = pq.ParquetWriter(self.folder / FEATURES, FEATURE_SCHEMA)
        self._examples = pq.ParquetWriter(self.folder / EXAMPLES, EXAMPLE_SCHEMA)
        self._contexts = pq.ParquetWriter(self.folder / CONTEXTS, CONTEXT_SCHEMA)

    def write_features(self, features: list[FeatureDashboard]) -> None:
        assert self._features and self._examples and self._contexts, "begin() first"
        rows = [_features_table_row(f) for f in features]
        writes = [(self._features, pa.Table.from_pylist(rows, FEATURE_SCHEMA))]
        columns = _shared_columns(features)
        if columns is not None:  # straight from a run: arrays, no object per example
            texts: Mapping[int, ContextText] = columns.texts
            n, width = columns.values.shape
            examples = _examples_table(
                columns.feature, np.asarray(columns.bin_names, dtype=object)[columns.bin], columns.rank,
                columns.context, np.arange(n + 1, dtype=np.int64) * width, columns.values.reshape(-1),
                columns.max_value, columns.max_index)
            used = np.unique(columns.context).tolist()
        else:
            examples, texts = self._examples_from_objects(features)
            used = sorted(texts)
        new_contexts = [c for c in used if c not in self._written]
        self._written.update(new_contexts)
        if new_contexts:
            writes.append((self._contexts, pa.table({
                "context": new_contexts, "token_ids": [texts[c][0] for c in new_contexts],
                "tokens": [texts[c][1] for c in new_contexts],
                "notes": [json.dumps({str(k): v for k, v in texts[c][2].items()}) if texts[c][2] else "{}"
                          for c in new_contexts],
                "special": [texts[c][3] for c in new_contexts]}, schema=CONTEXT_SCHEMA)))
        writes.append((self._examples, examples))
        self._wait()
        self._pending = self._writer.submit(_write_all, writes)

    def _examples_from_objects(self, features: list[FeatureDashboard]) -> tuple[pa.Table, dict[int, ContextText]]:
        """The examples table of features whose examples are objects (e.g. exported from a database), and
        their contexts by id. Contexts without a stream index get one here (negative), by their tokens."""
        pairs = [(f.index, e) for f in features for e in f.examples]
        texts: dict[int, ContextText] = {}
        ids = []
        for _, e in pairs:
            if e.context >= 0:
                context = e.context
            else:
                context = self._by_tokens.setdefault(tuple(e.token_ids), -1 - len(self._by_tokens))
            texts.setdefault(context, (e.token_ids, e.tokens, e.notes, e.special))
            ids.append(context)
        offsets = np.zeros(len(pairs) + 1, dtype=np.int64)
        np.cumsum([len(e.values) for _, e in pairs], out=offsets[1:])
        # Lists (e.g. from a database export) and rows from a run (float64 arrays) alike.
        flat = np.concatenate([e.values for _, e in pairs], dtype=np.float64) if pairs else np.zeros(0)
        table = _examples_table(
            np.array([i for i, _ in pairs], dtype=np.int64), [e.bin for _, e in pairs],
            np.array([e.rank for _, e in pairs], dtype=np.int64), np.array(ids, dtype=np.int64), offsets, flat,
            np.array([e.max_value for _, e in pairs], dtype=np.float64),
            np.array([e.max_index for _, e in pairs], dtype=np.int64))
        return table, texts

    def _wait(self) -> None:
        """Wait for the write in flight; its error, if any, is raised here."""
        if self._pending is not None:
            pending, self._pending = self._pending, None
            pending.result()

    def abort(self) -> None:
        """Stop after a failed run: the write in flight ends, files are closed; without run.json the
        folder is not a bundle (read_run says so)."""
        with contextlib.suppress(Exception):  # the run's own error is the one to raise
            self._wait()
        self._writer.shutdown()
        for writer in (self._features, self._examples, self._contexts):
            if writer is not None:
                writer.close()

    def finish(self, run: RunInfo) -> None:
        self._wait()
        self._writer.shutdown()
        for writer in (self._features, self._examples, self._contexts):
            if writer is not None:
                writer.close()
        (self.folder / RUN).write_text(json.dumps({"format": FORMAT_VERSION, **run.to_dict()}, indent=2,
                                                  default=str))


def _write_all(writes: list[tuple[pq.ParquetWriter, pa.Table]]) -> None:
    for writer, table in writes:
        writer.write_table(table)


def _features_table_row(f: FeatureDashboard) -> dict[str, Any]:
    """A feature's row of features.parquet (its examples go to the other tables)."""
    return {
        "index": f.index, "max_act": f.max_act, "min_act": f.min_act, "density": f.density,
        "hist_counts": f.hist_counts, "hist_lo": f.hist_lo, "hist_hi": f.hist_hi,
        "top_logits_tokens": [t for t, _ in f.top_logits], "top_logits_values": [v for _, v in f.top_logits],
        "bottom_logits_tokens": [t for t, _ in f.bottom_logits],
        "bottom_logits_values": [v for _, v in f.bottom_logits],
        "neighbour_indices": [i for i, _ in f.neighbours], "neighbour_cosines": [c for _, c in f.neighbours],
    }


def _shared_columns(features: list[FeatureDashboard]) -> ExampleColumns | None:
    """The ExampleColumns these features' examples are, in order and whole, if they are (as a run yields)."""
    lists = [f.examples for f in features if isinstance(f.examples, ExampleList)]
    if not lists or len(lists) != len(features):
        return None
    columns = lists[0].columns
    position = 0
    for part in lists:
        if part.columns is not columns or part.start != position:
            return None
        position = part.stop
    return columns if position == len(columns) else None


def _examples_table(feature: np.ndarray, bins: Sequence[str] | np.ndarray, rank: np.ndarray, context: np.ndarray,
                    offsets: np.ndarray, flat: np.ndarray, max_value: np.ndarray, max_index: np.ndarray) -> pa.Table:
    """Column by column, values as one flat array with offsets (no Python float per value)."""
    arrays = {
        "feature": pa.array(feature, pa.int64()), "bin": pa.array(bins, pa.string()),
        "rank": pa.array(rank, pa.int64()), "context": pa.array(context, pa.int64()),
        "values": pa.ListArray.from_arrays(pa.array(offsets, pa.int32()), pa.array(flat, pa.float64())),
        "max_value": pa.array(max_value, pa.float64()), "max_index": pa.array(max_index, pa.int64()),
    }
    return pa.table([arrays[name] for name in EXAMPLE_SCHEMA.names], schema=EXAMPLE_SCHEMA)


def read_run(folder: Path) -> RunInfo:
    """The run description of a bundle."""
    path = Path(folder) / RUN
    if not path.is_file():
        raise BundleError(f"{folder} is not a Featurepedia bundle: no {RUN} (expected {RUN}, {FEATURES}, "
                          f"{EXAMPLES})")
    data = json.loads(path.read_text())
    found = data.pop("format", None)
    if found != FORMAT_VERSION:
        raise BundleError(f"{folder} is a bundle of format {found}; this version reads format {FORMAT_VERSION}: "
                          "build or export it again with this version")
    return RunInfo(**data)


def read_features(folder: Path, chunk: int = 256) -> Iterator[list[FeatureDashboard]]:
    """Stream a bundle's features with their examples, ``chunk`` features at a time, in index order.

    Examples are read one feature-range at a time with a filter, so memory stays bounded.
    """
    folder = Path(folder)
    read_run(folder)  # a bundle of another format is refused before its files are read
    for name in (FEATURES, EXAMPLES, CONTEXTS):
        if not (folder / name).is_file():
            raise BundleError(f"{folder} has no {name} (a bundle of format {FORMAT_VERSION} has {FEATURES}, "
                              f"{EXAMPLES}, {CONTEXTS} and {RUN})")
    features_file = pq.ParquetFile(folder / FEATURES)
    for batch in features_file.iter_batches(batch_size=chunk):
        rows = batch.to_pylist()
        lo, hi = rows[0]["index"], rows[-1]["index"]
        table = pq.read_table(folder / EXAMPLES, filters=[("feature", ">=", lo), ("feature", "<=", hi)])
        examples = table.to_pylist()
        wanted = sorted({r["context"] for r in examples})
        contexts = {c["context"]: c for c in pq.read_table(
            folder / CONTEXTS, filters=[("context", "in", wanted)]).to_pylist()} if wanted else {}
        by_feature: dict[int, list[Example]] = {}
        for r in examples:
            c = contexts[r["context"]]
            notes = {int(k): v for k, v in json.loads(c["notes"] or "{}").items()}
            by_feature.setdefault(r["feature"], []).append(Example(
                token_ids=c["token_ids"], tokens=c["tokens"], notes=notes, special=c["special"], values=r["values"],
                max_value=r["max_value"], max_index=r["max_index"], bin=r["bin"], rank=r["rank"],
                context=r["context"] if r["context"] >= 0 else -1))
        yield [_feature_from_row(r, by_feature.get(r["index"], [])) for r in rows]


def _feature_from_row(r: dict[str, Any], examples: list[Example]) -> FeatureDashboard:
    return FeatureDashboard(
        index=r["index"], max_act=r["max_act"], min_act=r["min_act"], density=r["density"],
        hist_counts=r["hist_counts"], hist_lo=r["hist_lo"], hist_hi=r["hist_hi"],
        top_logits=list(zip(r["top_logits_tokens"], r["top_logits_values"], strict=True)),
        bottom_logits=list(zip(r["bottom_logits_tokens"], r["bottom_logits_values"], strict=True)),
        neighbours=list(zip(r["neighbour_indices"], r["neighbour_cosines"], strict=True)),
        examples=examples,
    )
