"""Reading other systems' data files: JSON, JSON Lines, gzipped or not, with errors that name the file, the
line and the field."""

from __future__ import annotations

import gzip
import json
import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from featurepedia.errors import FeaturepediaError

SUFFIXES = (".json", ".jsonl", ".json.gz", ".jsonl.gz")


class ImportFormatError(FeaturepediaError, ValueError):
    """A file to import is not in the format it should be: the message names the file, line and field."""


def data_files(paths: list[Path]) -> list[Path]:
    """The JSON/JSONL(.gz) files given, folders searched recursively, sorted; an error for a missing path."""
    found: list[Path] = []
    for path in paths:
        if not path.exists():
            raise ImportFormatError(f"{path} does not exist; give a file or a folder of "
                                    f"{', '.join(SUFFIXES)} files")
        if path.is_dir():
            found += sorted(p for p in path.rglob("*") if p.is_file() and p.name.endswith(SUFFIXES))
        elif path.name.endswith(SUFFIXES):
            found.append(path)
        else:
            raise ImportFormatError(f"{path} is not a {', '.join(SUFFIXES)} file")
    if not found:
        raise ImportFormatError(f"no {', '.join(SUFFIXES)} files in {', '.join(map(str, paths))}")
    return found


def read_records(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """(line number, object) for each record: a JSON Lines file's lines, or a JSON file's object (or each
    object of its top-level list, all numbered line 1)."""
    opener = gzip.open if path.name.endswith(".gz") else open
    try:
        with opener(path, "rt", encoding="utf-8") as f:
            if path.name.endswith((".jsonl", ".jsonl.gz")):
                for number, line in enumerate(f, start=1):
                    if line.strip():
                        yield number, _object(_parse(line.strip(), path, number), path, number)
            else:
                data = _parse(f.read(), path, 1)
                for item in data if isinstance(data, list) else [data]:
                    yield 1, _object(item, path, 1)
    except (OSError, UnicodeDecodeError, EOFError) as err:
        raise ImportFormatError(f"{path}: cannot be read ({err}); is it a complete "
                                f"{'gzip' if path.name.endswith('.gz') else 'UTF-8 text'} file?") from None


def _parse(text: str, path: Path, line: int) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as err:
        raise ImportFormatError(f"{path}:{line + err.lineno - 1}: not valid JSON ({err.msg} at column "
                                f"{err.colno})") from None


def _object(value: Any, path: Path, line: int) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ImportFormatError(f"{path}:{line}: expected a JSON object, found {type(value).__name__}")
    return value


class Where:
    """A record's place (file and line), to name in errors about its fields."""

    def __init__(self, path: Path, line: int, record: dict[str, Any]) -> None:
        self.path, self.line, self.record = path, line, record

    def error(self, field: str, problem: str) -> ImportFormatError:
        return ImportFormatError(f"{self.path}:{self.line}: field {field!r} {problem}")

    def get(self, field: str, kind: str, default: Any = ..., record: dict[str, Any] | None = None) -> Any:
        """The field, checked to be of ``kind`` (int, number, str, list, str-list, number-list, dict)."""
        record = self.record if record is None else record
        if field not in record or record[field] is None:
            if default is ...:
                raise self.error(field, "is missing")
            return default
        value = record[field]
        if default is not ... and isinstance(value, float) and value != value:
            return default  # NaN in an optional field: not known, as missing
        if not _is(value, kind):
            raise self.error(field, f"should be {_WORDS[kind]}, found {json.dumps(value)[:60]}")
        return value


def _number(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)


def _is(value: Any, kind: str) -> bool:
    if kind == "int":
        return (isinstance(value, int) and not isinstance(value, bool)) or (
            isinstance(value, str) and value.isdigit())
    if kind == "number":
        return _number(value)
    if kind == "str":
        return isinstance(value, str)
    if kind == "dict":
        return isinstance(value, dict)
    if kind == "list":
        return isinstance(value, list)
    if kind == "str-list":
        return isinstance(value, list) and all(isinstance(v, str) for v in value)
    if kind == "number-list":
        return isinstance(value, list) and all(_number(v) for v in value)
    raise ValueError(kind)


_WORDS = {"int": "a whole number (or a string of digits)", "number": "a finite number", "str": "a string",
          "dict": "an object", "list": "a list", "str-list": "a list of strings",
          "number-list": "a list of finite numbers"}
