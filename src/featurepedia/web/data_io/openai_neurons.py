"""Import OpenAI's neuron-explainer data (the public GPT-2 XL and GPT-2 small neuron datasets of "Language
models can explain neurons in language models") into the catalog.

Their datasets hold, per neuron, two files (fields as in neuron_explainer/activations/activations.py and
explanations/explanations.py of openai/automated-interpretability):

- ``collated-activations/<layer>/<neuron>.json``: a NeuronRecord: ``neuron_id`` (``layer_index``,
  ``neuron_index``), ``most_positive_activation_records`` and ``random_sample`` (lists of ActivationRecords:
  ``tokens`` and ``activations``), optionally ``random_sample_by_quantile`` (a list of such lists) and
  ``quantile_boundaries``, and the moments ``mean``, ``variance``, ``skewness``, ``kurtosis``;
- ``explanations/<layer>/<neuron>.jsonl``: one line, a NeuronSimulationResults: ``neuron_id`` and
  ``scored_explanations``, each an ``explanation`` and its ``scored_simulation`` (``ev_correlation_score``,
  ``rsquared_score``, ``absolute_dev_explained_score``, ``scored_sequence_simulations``). A bare
  ``{"explanation": ..., "score": ...}`` record (the neuron named by its path) is read too.

Neurons are MLP neurons: source ``<layer>-mlp`` at ``blocks.<layer>.mlp.hook_post``. The explanation gets the
method ``openai-neuron-explainer``, its correlation score the scorer ``openai-simulation``.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from django.db import transaction

from featurepedia.web.catalog.models import Source
from featurepedia.web.data_io.catalog_writer import (
    CatalogWriter,
    Counts,
    NewExample,
    NewExplanation,
    NewScore,
    SourceInfo,
)
from featurepedia.web.data_io.records import ImportFormatError, Where, data_files, read_records

METHOD = "openai-neuron-explainer"
SCORER = "openai-simulation"
ACTIVE_FRACTION = 0.1  # as our builds count a signed neuron active (dashboards RunConfig.active_fraction)


def _records(at: Where, field: str) -> list[tuple[list[str], list[float]]]:
    """An ActivationRecord list field as (tokens, activations) pairs, checked."""
    out = []
    for number, item in enumerate(at.get(field, "list", [])):
        if not isinstance(item, dict):
            raise at.error(field, f"item {number} should be an ActivationRecord object")
        tokens = at.get("tokens", "str-list", record=item)
        values = at.get("activations", "number-list", record=item)
        if len(tokens) != len(values):
            raise at.error(field, f"item {number} has {len(values)} activations for {len(tokens)} tokens")
        out.append((tokens, [float(v) for v in values]))
    return out


def neuron_examples(at: Where) -> tuple[list[NewExample], dict[str, Any]]:
    """A NeuronRecord's examples (top ranked by max; quantile samples as q0..; else the random sample as q0)
    and the feature's stats (max, min, density estimated on the random sample)."""
    top = _records(at, "most_positive_activation_records")
    random = _records(at, "random_sample")
    by_quantile = at.get("random_sample_by_quantile", "list", None)
    examples = [NewExample("top", rank, t, v) for rank, (t, v) in
                enumerate(sorted(top, key=lambda r: -max(r[1], default=0.0)))]
    if by_quantile:
        for q, group in enumerate(by_quantile[:10]):
            rows = _records(Where(at.path, at.line, {"random_sample_by_quantile": group}), "random_sample_by_quantile")
            examples += [NewExample(f"q{q}", rank, t, v) for rank, (t, v) in enumerate(rows)]
    else:
        examples += [NewExample("q0", rank, t, v) for rank, (t, v) in enumerate(random)]
    every = [v for _, values in top + random for v in values]
    stats: dict[str, Any] = {"max_act": max(every, default=0.0), "min_act": min(every, default=0.0)}
    sample = [v for _, values in random for v in values]
    if sample:
        threshold = ACTIVE_FRACTION * stats["max_act"]
        stats["density"] = sum(v > threshold for v in sample) / len(sample)
    return examples, stats


def explanations_of(at: Where) -> list[NewExplanation]:
    """A NeuronSimulationResults' scored explanations (or a bare explanation record)."""
    items = at.get("scored_explanations", "list", None)
    if items is None:
        items = [at.record]
    out = []
    for number, item in enumerate(items):
        if not isinstance(item, dict):
            raise at.error("scored_explanations", f"item {number} should be a ScoredExplanation object")
        text = at.get("explanation", "str", record=item).strip()
        if not text:
            raise at.error("explanation", "is empty")
        simulation = at.get("scored_simulation", "dict", {}, record=item)
        value = simulation.get("ev_correlation_score", item.get("score"))
        if value is not None and not isinstance(value, int | float):
            raise at.error("ev_correlation_score", f"should be a number, found {value!r}")
        value = None if value is None or value != value else float(value)  # NaN: undefined, as theirs says
        extra = {k: simulation[k] for k in ("rsquared_score", "absolute_dev_explained_score")
                 if isinstance(simulation.get(k), int | float)}
        method = METHOD if number == 0 else f"{METHOD}#{number + 1}"
        out.append(NewExplanation(text=text, method=method, details={"from": "openai-neuron-explainer"},
                                  scores=[NewScore(SCORER, value, details=extra)]))
    return out


def _neuron_id(at: Where) -> tuple[int, int]:
    """(layer, neuron) from ``neuron_id``, else from the path ``.../<layer>/<neuron>.json[l]``."""
    ident = at.get("neuron_id", "dict", None)
    if ident is not None:
        return int(at.get("layer_index", "int", record=ident)), int(at.get("neuron_index", "int", record=ident))
    stem = at.path.name.split(".")[0]
    if stem.isdigit() and at.path.parent.name.isdigit():
        return int(at.path.parent.name), int(stem)
    raise at.error("neuron_id", "is missing, and the path is not <layer>/<neuron>.json(l) to tell the neuron")


def import_openai_neurons(paths: list[Path], model: str, source: str | None = None,
                          say: Callable[[str], None] = lambda _: None) -> list[tuple[Source, Counts]]:
    """Import neuron records and explanation files; returns each source written and its counts.

    Args:
        model: our model id (their files do not name the model), e.g. gpt2-xl.
        source: our source id for every neuron (default ``<layer>-mlp`` per layer).
    """
    writers: dict[str, CatalogWriter] = {}
    files = [str(p) for p in data_files(paths)]
    with transaction.atomic():  # a file with an error imports nothing: fix it and run the same command again
        for name in files:
            path = Path(name)
            say(f"reading {path}")
            for line, record in read_records(path):
                at = Where(path, line, record)
                layer, neuron = _neuron_id(at)
                slug = source or f"{layer}-mlp"
                if slug not in writers:
                    writers[slug] = CatalogWriter(SourceInfo(
                        model=model, source=slug, kind="neurons", hook_name=f"blocks.{layer}.mlp.hook_post",
                        origin={"format": "openai-neuron-explainer", "files": files}))
                writer = writers[slug]
                if "scored_explanations" in record or "explanation" in record:
                    feature = writer.feature(neuron)
                    for new in explanations_of(at):
                        writer.explanation(feature, new)
                elif "most_positive_activation_records" in record or "random_sample" in record:
                    examples, stats = neuron_examples(at)
                    writer.examples(writer.feature(neuron, stats), examples)
                else:
                    raise ImportFormatError(f"{path}:{line}: not a NeuronRecord (no "
                                            "'most_positive_activation_records' or 'random_sample') nor "
                                            "NeuronSimulationResults (no 'scored_explanations')")
        if not writers:
            raise ImportFormatError(f"no neuron records or explanations in {', '.join(map(str, paths))}")
        return [(w.finish(), w.counts) for w in writers.values()]
