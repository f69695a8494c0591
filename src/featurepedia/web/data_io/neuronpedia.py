"""Import Neuronpedia's public dataset exports (their ``export-data`` layout, or features as their API sends
them) into the catalog.

Their export of one source is a folder ``<modelId>/<sourceId>/`` holding ``model.jsonl`` and ``source.jsonl``
(one record each) and ``features/``, ``activations/`` and ``explanations/`` folders of ``batch-<n>.jsonl.gz``
files, one database row per line:

- a feature: ``modelId``, ``layer`` (the source id, e.g. ``6-res-jb``), ``index`` (a string of digits),
  ``maxActApprox``, ``frac_nonzero``, ``pos_str``/``pos_values`` and ``neg_str``/``neg_values`` (top and
  bottom logits), ``freq_hist_data_bar_heights``/``_values``, ``topkCosSimIndices``/``Values``, ``hookName``;
- an activation (one context): ``modelId``, ``layer``, ``index``, ``tokens``, ``values``, ``maxValue``,
  ``maxValueTokenIndex``, ``minValue``, ``binMin``/``binMax`` (the activation-quantile group it was sampled
  from; missing or negative for the top examples);
- an explanation: ``modelId``, ``layer``, ``index``, ``description``, ``typeName`` (how it was made, e.g.
  ``oai_token-act-pair``), ``explanationModelName`` (e.g. ``gpt-4o-mini``), ``id``.

A feature as their API returns it (``/api/feature/...``) nests its ``activations`` and ``explanations``; such
records are read too. Explanations are stored with the method ``neuronpedia:<typeName>:<explanationModelName>``.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

from django.db import transaction

from featurepedia.errors import UsageError
from featurepedia.web.catalog.models import Source
from featurepedia.web.data_io.catalog_writer import (
    CatalogWriter,
    Counts,
    NewExample,
    NewExplanation,
    SourceInfo,
)
from featurepedia.web.data_io.records import ImportFormatError, Where, data_files, read_records

METADATA = {"model.jsonl": "model", "source.jsonl": "source"}
SKIPPED = ("sourceset.jsonl", "release.jsonl", "inference_hosts.jsonl", "inference_hosts_on_source.jsonl")


def _kind(source_id: str) -> str:
    return "neurons" if source_id.endswith("-mlp") or "neurons" in source_id else "sae"


def feature_stats(at: Where) -> dict[str, Any]:
    """Our Feature fields from a Neuronpedia feature record."""
    stats: dict[str, Any] = {}
    if (top := at.get("maxActApprox", "number", None)) is not None:
        stats["max_act"] = float(top)
    if (density := at.get("frac_nonzero", "number", None)) is not None:
        stats["density"] = float(density)
    for ours, words, values in (("top_logits", "pos_str", "pos_values"), ("bottom_logits", "neg_str", "neg_values")):
        names, numbers = at.get(words, "str-list", []), at.get(values, "number-list", [])
        if len(names) != len(numbers):
            raise at.error(values, f"has {len(numbers)} values for {len(names)} tokens in {words!r}")
        if names:
            stats[ours] = [[t, float(v)] for t, v in zip(names, numbers, strict=True)]
    heights = at.get("freq_hist_data_bar_heights", "number-list", [])
    centres = at.get("freq_hist_data_bar_values", "number-list", [])
    if heights and len(heights) == len(centres):
        stats.update(hist_counts=[int(round(h)) for h in heights], hist_lo=float(min(centres)),
                     hist_hi=float(max(centres)))
    near, cosines = at.get("topkCosSimIndices", "list", []), at.get("topkCosSimValues", "number-list", [])
    index = int(at.get("index", "int"))
    if near and len(near) == len(cosines):
        stats["neighbours"] = [[int(i), float(c)] for i, c in zip(near, cosines, strict=True) if int(i) != index]
    return stats


def examples_of(activations: list[Where]) -> list[NewExample]:
    """A feature's Neuronpedia activations as our examples: top ones (no bin) ranked by max, then the
    quantile groups (by binMin, lowest first) as q0.. q9."""
    parsed = []
    for at in activations:
        tokens, values = at.get("tokens", "str-list"), at.get("values", "number-list")
        if len(tokens) != len(values):
            raise at.error("values", f"has {len(values)} values for {len(tokens)} tokens")
        low = at.get("binMin", "number", None)
        parsed.append((None if low is None or low < 0 else float(low), tokens, [float(v) for v in values]))
    groups = sorted({low for low, _, _ in parsed if low is not None})
    bins: dict[str, list[tuple[list[str], list[float]]]] = defaultdict(list)
    for low, tokens, values in parsed:
        name = "top" if low is None else f"q{min(9, groups.index(low) * 10 // len(groups))}"
        bins[name].append((tokens, values))
    return [NewExample(bin=name, rank=rank, tokens=t, values=v) for name, rows in bins.items()
            for rank, (t, v) in enumerate(sorted(rows, key=lambda r: -max(r[1], default=0.0)))]


def explanation_of(at: Where) -> NewExplanation:
    text = at.get("description", "str").strip()
    if not text:
        raise at.error("description", "is empty")
    kind = at.get("typeName", "str", "") or "unknown"
    model = at.get("explanationModelName", "str", "") or "unknown"
    details = {"from": "neuronpedia", "id": at.get("id", "str", ""), "typeName": kind,
               "explanationModelName": model}
    return NewExplanation(text=text, method=f"neuronpedia:{kind}:{model}", details=details)


class _Import:
    def __init__(self, model: str | None, source: str | None, kind: str | None, say: Callable[[str], None]) -> None:
        self.model, self.source, self.kind, self.say = model, source, kind, say
        self.meta: dict[str, dict[str, Any]] = {}
        self.writers: dict[tuple[str, str], CatalogWriter] = {}
        self.files: list[str] = []

    def writer(self, at: Where, hook: str = "") -> CatalogWriter:
        model = self.model or at.get("modelId", "str")
        source = self.source or at.get("layer", "str")
        key = (model, source)
        if key not in self.writers:
            m, s = self.meta.get("model", {}), self.meta.get("source", {})
            info = SourceInfo(model=model, source=source, kind=self.kind or _kind(source), prepend_bos=True,
                              hook_name=hook or _hook_from_source(s),
                              model_name=str(m.get("displayName") or ""), n_layers=int(m.get("layers") or 0),
                              d_model=int(m.get("dimension") or 0),
                              origin={"format": "neuronpedia", "modelId": at.record.get("modelId"),
                                      "layer": at.record.get("layer"), "files": self.files})
            self.writers[key] = CatalogWriter(info)
        return self.writers[key]

    def feature_record(self, at: Where) -> None:
        writer = self.writer(at, at.get("hookName", "str", ""))
        feature = writer.feature(int(at.get("index", "int")), feature_stats(at))
        nested = at.get("activations", "list", None)
        if nested is not None:
            writer.examples(feature, examples_of([Where(at.path, at.line, _sub(at, "activations", a))
                                                  for a in nested]))
        for e in at.get("explanations", "list", []):
            writer.explanation(feature, explanation_of(Where(at.path, at.line, _sub(at, "explanations", e))))

    def file(self, path: Path) -> None:
        if path.name in SKIPPED or path.parent.name == "config":
            return
        self.files.append(str(path))
        activations: dict[tuple[str, str, int], list[Where]] = defaultdict(list)
        for line, record in read_records(path):
            at = Where(path, line, record)
            if path.name in METADATA:
                self.meta[METADATA[path.name]] = record
            elif "description" in record:
                writer = self.writer(at)
                writer.explanation(writer.feature(int(at.get("index", "int"))), explanation_of(at))
            elif "tokens" in record and "values" in record:
                activations[(at.get("modelId", "str"), at.get("layer", "str"), int(at.get("index", "int")))].append(at)
            elif "index" in record:
                self.feature_record(at)
            else:
                raise ImportFormatError(f"{path}:{line}: not a Neuronpedia feature, activation or explanation "
                                        "(no 'index', 'tokens'/'values' or 'description' field)")
        for (_, _, index), rows in activations.items():
            writer = self.writer(rows[0])
            writer.examples(writer.feature(index), examples_of(rows))


def _sub(at: Where, field: str, value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise at.error(field, "should be a list of objects")
    return value


def _hook_from_source(source: dict[str, Any]) -> str:
    import json

    config = source.get("saelensConfig")
    try:
        parsed = json.loads(config) if isinstance(config, str) else config
    except json.JSONDecodeError:
        return ""
    return str(parsed.get("hook_name", "")) if isinstance(parsed, dict) else ""


def _order(path: Path) -> tuple[int, str]:
    """Metadata first, then features (they carry the hook point), activations, explanations."""
    if path.name in METADATA:
        return 0, str(path)
    for rank, folder in enumerate(("features", "activations", "explanations"), start=1):
        if folder in path.parts:
            return rank, str(path)
    return 4, str(path)


def import_neuronpedia(paths: list[Path], model: str | None = None, source: str | None = None,
                       kind: str | None = None, say: Callable[[str], None] = lambda _: None) -> list[tuple[Source, Counts]]:
    """Import Neuronpedia export files or folders (metadata first); returns each source written and its counts.

    Args:
        model, source: our slugs for the model and source (default: the records' ``modelId`` and ``layer``).
        kind: ``neurons`` or ``sae`` (default: neurons for a source id ending in ``-mlp``, else sae).
    """
    files = data_files(paths)
    if kind not in (None, "neurons", "sae"):
        raise UsageError(f"kind {kind!r} is neither neurons nor sae")
    job = _Import(model, source, kind, say)
    with transaction.atomic():  # a file with an error imports nothing: fix it and run the same command again
        for path in sorted(files, key=_order):
            say(f"reading {path}")
            job.file(path)
        if not job.writers:
            raise ImportFormatError(f"no Neuronpedia features, activations or explanations in "
                                    f"{', '.join(map(str, paths))}")
        return [(w.finish(), w.counts) for w in job.writers.values()]
