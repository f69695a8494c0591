"""A dashboards build from a config: load the model and sources, run the pass, write to the sinks.

The one place the command line (``featurepedia build``, ``demo``) turns a :class:`RunConfig` into a run;
the database sink is added by ``web.catalog.building`` so that this layer knows no Django.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import torch

from featurepedia.dashboards.checkpoint import CHECKPOINT
from featurepedia.dashboards.config import RunConfig
from featurepedia.dashboards.fanout import FanoutSink
from featurepedia.dashboards.parquet import BundleError, ParquetSink, read_run
from featurepedia.dashboards.results import RunInfo
from featurepedia.dashboards.runner import (
    RUN_RECORD,
    Sink,
    SourceRun,
    run_dashboards,
    run_sources,
)
from featurepedia.dashboards.shards import ShardRunner
from featurepedia.dashboards.source_list import SourceList
from featurepedia.errors import NotFoundError, UsageError
from featurepedia.lm import LanguageModel, get_model
from featurepedia.settings import get_settings
from featurepedia.sources import Source, source_for


def build_run(config: RunConfig, *, hook: str | None = None, out: Path | None = None,
              sinks: Callable[[], Sequence[Sink]] = tuple, fresh: bool = False,
              progress: bool = True, shards: ShardRunner | None = None) -> RunInfo:
    """Compute the dashboards of ``config``'s model and source and write them to the sinks.

    Args:
        hook: hook point for an SAE whose cfg.json names none.
        out: also write a Parquet bundle to this folder.
        sinks: makes the other sinks; called once the model and source are loaded, so that a bad model id
            or source fails before anything (a database) is touched.
        fresh: forget an existing checkpoint of this run and start over.
        shards: run the pass as shards on this runner (Ray: ``ray_shards.RayShards``); same results.
    Returns:
        The run's description.
    """
    settings = get_settings()
    if settings.torch_threads:
        torch.set_num_threads(settings.torch_threads)
    model, source = load_model_and_source(config, hook)
    run_dir = settings.runs_dir / model.model_id / source.source_id
    if fresh:
        (run_dir / CHECKPOINT).unlink(missing_ok=True)
    targets = [*sinks(), *([ParquetSink(out)] if out is not None else [])]
    if not targets:
        raise UsageError("a build with no sink writes nothing; give an output folder or a database sink")
    return run_dashboards(model, source, config, FanoutSink(targets), run_dir, progress=progress, shards=shards)


def load_model_and_source(config: RunConfig, hook: str | None = None) -> tuple[LanguageModel, Source]:
    """The model and source a build reads; a file that cannot be read is a clear error, not an OSError."""
    model = _load_model(config.model)
    return model, _load_source(model, config, hook)


def load_model_and_sources(model_id: str, sources: Sequence[tuple[RunConfig, str | None]]
                           ) -> tuple[LanguageModel, list[Source]]:
    """The model and the sources of a pass, each given by its run's config and hook point (as
    :func:`load_model_and_source`; a shard's worker rebuilds a pass with it)."""
    model = _load_model(model_id)
    return model, [_load_source(model, config, hook) for config, hook in sources]


def _load_model(model_id: str) -> LanguageModel:
    try:
        return get_model(model_id)
    except OSError as err:
        raise _unreadable(model_id, err) from err


def _load_source(model: LanguageModel, config: RunConfig, hook: str | None) -> Source:
    try:
        return source_for(model, config.source, sae_path=config.sae_path, hook_name=hook)
    except OSError as err:
        raise _unreadable(config.model, err, config.source) from err


def _unreadable(model_id: str, err: OSError, source_id: str | None = None) -> NotFoundError:
    what = f"model {model_id!r}" + (f" or source {source_id!r}" if source_id else "")
    return NotFoundError(
        f"cannot read the files of {what}: {err}; check the path (a model folder needs its config and "
        "tokenizer, an SAE folder cfg.json and sae_weights.safetensors, or sae.safetensors for sparsify)")


class Outputs:
    """Where the sources of a build go besides their Parquet bundles: nowhere here; the database in
    ``web.catalog.building``."""

    def sinks(self, config: RunConfig) -> Sequence[Sink]:
        """The sinks of one source's results."""
        return ()

    def holds(self, run: Mapping[str, Any]) -> bool:
        """Whether these outputs already hold this finished run (its run folder's run.json, as a dict)."""
        return True


@dataclass
class BuiltSource:
    """One source of a build: its run's description, and whether it was already built (so skipped)."""

    source_id: str
    info: RunInfo
    skipped: bool = False


def build_runs(template: RunConfig, sources: SourceList, *, out: Path | None = None,
               outputs: Callable[[], Outputs] = Outputs, fresh: bool = False,
               progress: bool = True, shards: ShardRunner | None = None) -> list[BuiltSource]:
    """Compute the dashboards of several sources of one model in one pass over the corpus.

    Each source gets the config a build of it alone would have (``template`` with its source id and SAE
    folder), its own run folder and checkpoint, its own sinks and, with ``out``, its own bundle in
    ``out/<source id>``. A rerun with the same options resumes every unfinished source from its
    checkpoint; a source whose run folder and outputs already hold its finished run is skipped.

    Args:
        template: the options every source shares (its source and sae_path are set per source).
        sources: the sources (``all-mlp`` is expanded once the model is loaded).
        outputs: makes the other outputs (the database); called once the model and sources are loaded,
            so that a bad id fails before anything is touched.
        fresh: forget every source's checkpoint and finished run, and build them all again.
        shards: as for :func:`build_run`.
    Returns:
        Every source, in the order given.
    """
    settings = get_settings()
    if settings.torch_threads:
        torch.set_num_threads(settings.torch_threads)
    model = _load_model(template.model)
    loaded = []
    for request in sources.expand(model.n_layers):
        config = replace(template, source=request.source_id, sae_path=request.sae_path)
        loaded.append((config, _load_source(model, config, request.hook)))
    target = outputs()
    built: dict[str, BuiltSource] = {}
    runs: list[SourceRun] = []
    for config, source in loaded:
        run_dir = settings.runs_dir / model.model_id / source.source_id
        bundle = out / source.source_id if out is not None else None
        if fresh:
            (run_dir / CHECKPOINT).unlink(missing_ok=True)
            (run_dir / RUN_RECORD).unlink(missing_ok=True)
        elif (done := _finished(run_dir, bundle, config, source, target)) is not None:
            built[source.source_id] = BuiltSource(source.source_id, done, skipped=True)
            continue
        sinks = [*target.sinks(config), *([ParquetSink(bundle)] if bundle is not None else [])]
        if not sinks:
            raise UsageError("a build with no sink writes nothing; give an output folder or a database sink")
        runs.append(SourceRun(source, config, FanoutSink(sinks), run_dir))
    if runs:
        for run, info in zip(runs, run_sources(model, runs, progress=progress, shards=shards), strict=True):
            built[run.source.source_id] = BuiltSource(run.source.source_id, info)
    return [built[source.source_id] for _, source in loaded]


def holds_run(stored: Mapping[str, Any], config: RunConfig, source: Source) -> bool:
    """Whether a stored run description (a run.json) is of this config and this source."""
    try:
        same_config = RunConfig.from_dict(stored["config"]).fingerprint() == config.fingerprint()
    except (KeyError, TypeError):
        return False
    return same_config and plain(stored.get("source")) == plain(source.config())


def _finished(run_dir: Path, bundle: Path | None, config: RunConfig, source: Source,
              outputs: Outputs) -> RunInfo | None:
    """The source's finished run when its run folder records one of these options and every output holds
    that very run; None when it is still to be built (or finished)."""
    path = run_dir / RUN_RECORD
    try:
        stored = json.loads(path.read_text()) if path.is_file() else None
    except (OSError, ValueError):
        return None
    if not isinstance(stored, dict) or not holds_run(stored, config, source):
        return None
    if bundle is not None:
        try:
            if plain(read_run(bundle).to_dict()) != plain(stored):
                return None
        except BundleError:
            return None
    if not outputs.holds(stored):
        return None
    try:
        return RunInfo(**stored)
    except TypeError:
        return None


def plain(data: Any) -> Any:
    """``data`` as JSON would give it back (tuples as lists, paths as strings): stored copies compare equal."""
    return json.loads(json.dumps(data, default=str))
