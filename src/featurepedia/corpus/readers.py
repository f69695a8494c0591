"""Text sources: the bundled default corpus, local .txt/.jsonl/.parquet files, Hugging Face datasets.

A corpus spec is one of:
  ``default``                      the bundled corpus (see corpus/data/PROVENANCE.md)
  ``PATH.txt``                     documents separated by blank lines
  ``PATH.jsonl`` / ``.jsonl.gz``   one JSON object per line with a ``text`` field
  ``PATH.parquet``                 a ``text`` column
  ``hf:NAME[:CONFIG][@SPLIT]``     a Hugging Face dataset, streamed (needs internet unless cached)
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator
from importlib import resources
from pathlib import Path
from typing import IO

from featurepedia.errors import FeaturepediaError

DEFAULT_SPEC = "default"


class CorpusError(FeaturepediaError, ValueError):
    """A corpus spec cannot be read."""


def default_corpus_path() -> Path:
    """Path of the bundled default corpus file."""
    return Path(str(resources.files("featurepedia.corpus") / "data" / "default.jsonl.gz"))


def iter_documents(spec: str, text_field: str = "text") -> Iterator[str]:
    """Yield the non-empty documents of a corpus spec, in file order."""
    if spec == DEFAULT_SPEC:
        yield from _jsonl(default_corpus_path(), text_field)
        return
    if spec.startswith("hf:"):
        yield from _hf(spec[3:], text_field)
        return
    path = Path(spec).expanduser()
    if not path.is_file():
        raise CorpusError(f"corpus {spec!r} is not a file; give 'default', a .txt/.jsonl/.parquet file, "
                          "or hf:NAME for a Hugging Face dataset")
    name = path.name.lower()
    if name.endswith(".txt"):
        yield from _txt(path)
    elif name.endswith((".jsonl", ".jsonl.gz", ".json.gz")):
        yield from _jsonl(path, text_field)
    elif name.endswith(".parquet"):
        yield from _parquet(path, text_field)
    else:
        raise CorpusError(f"corpus file {path} has an unknown extension; use .txt, .jsonl, .jsonl.gz or .parquet")


def _txt(path: Path) -> Iterator[str]:
    block: list[str] = []
    with path.open(encoding="utf-8", errors="replace") as fh:
        for line in fh:
            if line.strip():
                block.append(line.rstrip("\n"))
            elif block:
                yield "\n".join(block)
                block = []
    if block:
        yield "\n".join(block)


def _jsonl(path: Path, text_field: str) -> Iterator[str]:
    fh: IO[str] = (gzip.open(path, "rt", encoding="utf-8") if path.name.endswith(".gz")
                   else open(path, encoding="utf-8"))
    with fh:
        for number, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as err:
                raise CorpusError(f"{path}:{number} is not valid JSON: {err}") from None
            text = record.get(text_field) if isinstance(record, dict) else None
            if not isinstance(text, str):
                raise CorpusError(f"{path}:{number} has no string field {text_field!r}")
            if text.strip():
                yield text


def _parquet(path: Path, text_field: str) -> Iterator[str]:
    import pyarrow.parquet as pq

    table = pq.ParquetFile(path)
    if text_field not in table.schema_arrow.names:
        raise CorpusError(f"{path} has no column {text_field!r}; columns: {table.schema_arrow.names}")
    for batch in table.iter_batches(columns=[text_field], batch_size=1024):
        for text in batch.column(0).to_pylist():
            if isinstance(text, str) and text.strip():
                yield text


def _hf(spec: str, text_field: str) -> Iterator[str]:
    """Stream a Hugging Face dataset: ``NAME[:CONFIG][@SPLIT]`` (default split: train)."""
    from datasets import load_dataset

    name, _, split = spec.partition("@")
    name, _, config = name.partition(":")
    try:
        dataset = load_dataset(name, config or None, split=split or "train", streaming=True)
    except Exception as err:  # datasets raises many types for missing/offline datasets
        raise CorpusError(f"could not open Hugging Face dataset {spec!r}: {err}. Offline, use 'default' or a "
                          "local file.") from None
    for record in dataset:
        text = record.get(text_field)
        if isinstance(text, str) and text.strip():
            yield text
