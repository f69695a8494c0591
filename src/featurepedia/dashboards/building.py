"""A dashboards build from a config: load the model and source, run the pass, write to the sinks.

The one place the command line (``featurepedia build``, ``demo``) turns a :class:`RunConfig` into a run;
the database sink is added by ``web.catalog.building`` so that this layer knows no Django.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import torch

from featurepedia.dashboards.config import RunConfig
from featurepedia.dashboards.fanout import FanoutSink
from featurepedia.dashboards.parquet import ParquetSink
from featurepedia.dashboards.results import RunInfo
from featurepedia.dashboards.runner import CHECKPOINT, Sink, run_dashboards
from featurepedia.errors import NotFoundError, UsageError
from featurepedia.lm import LanguageModel, get_model
from featurepedia.settings import get_settings
from featurepedia.sources import Source, source_for


def build_run(config: RunConfig, *, hook: str | None = None, out: Path | None = None,
              sinks: Callable[[], Sequence[Sink]] = tuple, fresh: bool = False,
              progress: bool = True) -> RunInfo:
    """Compute the dashboards of ``config``'s model and source and write them to the sinks.

    Args:
        hook: hook point for an SAE whose cfg.json names none.
        out: also write a Parquet bundle to this folder.
        sinks: makes the other sinks; called once the model and source are loaded, so that a bad model id
            or source fails before anything (a database) is touched.
        fresh: forget an existing checkpoint of this run and start over.
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
    return run_dashboards(model, source, config, FanoutSink(targets), run_dir, progress=progress)


def load_model_and_source(config: RunConfig, hook: str | None = None) -> tuple[LanguageModel, Source]:
    """The model and source a build reads; a file that cannot be read is a clear error, not an OSError."""
    try:
        model = get_model(config.model)
        return model, source_for(model, config.source, sae_path=config.sae_path, hook_name=hook)
    except OSError as err:
        raise NotFoundError(
            f"cannot read the files of model {config.model!r} or source {config.source!r}: {err}; check the "
            "path (a model folder needs its config and tokenizer, an SAE folder cfg.json and "
            "sae_weights.safetensors, or sae.safetensors for sparsify)") from err
