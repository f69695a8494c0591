"""The dashboards pipeline: one streaming pass over the corpus, then per-feature results to a sink.

tokens -> model up to the hook layer (stopping there) -> source.encode -> Collector; resumable from a
checkpoint in ``run_dir``; then FeatureDashboards (examples, histogram, density, logit effects,
neighbours) are written to the sink in chunks of features.
"""

from __future__ import annotations

import functools
import gc
import json
import logging
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Protocol, TypeVar

import torch

from featurepedia.corpus.contexts import context_batches, iter_contexts
from featurepedia.dashboards.checkpoint import CHECKPOINT, load_checkpoint, save_checkpoint
from featurepedia.dashboards.collector import Collector
from featurepedia.dashboards.config import RunConfig
from featurepedia.dashboards.density import density_rule
from featurepedia.dashboards.effects import weight_view_chunks
from featurepedia.dashboards.finalize import CHUNK, build_dashboards
from featurepedia.dashboards.results import FeatureDashboard, RunInfo
from featurepedia.lm.model import LanguageModel
from featurepedia.sources.base import Source

log = logging.getLogger(__name__)

T = TypeVar("T")


class Sink(Protocol):
    """Where results go: the Parquet bundle here, the database in web/catalog."""

    def begin(self, run: RunInfo) -> None: ...

    def write_features(self, features: list[FeatureDashboard]) -> None: ...

    def finish(self, run: RunInfo) -> None: ...

    def abort(self) -> None:
        """The run failed after begin(): release what begin() took (files, threads); keep what is stored."""


class Interrupted(Exception):
    """Raised by a test's ``stop_after`` hook to simulate a crash mid-run."""


def run_dashboards(
    model: LanguageModel,
    source: Source,
    config: RunConfig,
    sink: Sink,
    run_dir: Path,
    progress: bool = True,
    stop_after_batches: int | None = None,
    on_batch: Callable[[int], None] | None = None,
) -> RunInfo:
    """Compute every feature's dashboard and write them to ``sink``.

    Args:
        run_dir: where the checkpoint and the run's config live; a rerun with the same config resumes.
        stop_after_batches: stop (raising Interrupted) after this many new batches — for resume tests.
    Returns:
        The run's description (also saved as ``run_dir/run.json``).
    """
    started = time.perf_counter()
    run_dir.mkdir(parents=True, exist_ok=True)
    collector = Collector(config, source.n_features, source.nonnegative)
    _resume(collector, config, run_dir)
    hook = source.hook_name
    prepend = config.contexts.prepend_bos and model.bos_token_id is not None
    total_tokens = config.n_contexts * config.contexts.ctx_len
    bar = _progress(progress, total_tokens, collector.contexts_done * config.contexts.ctx_len)
    contexts = iter_contexts(model.tokenizer, config.contexts, config.n_contexts)
    for _ in range(collector.contexts_done):  # deterministic stream: skip what the checkpoint holds
        next(contexts, None)
    last_save = time.monotonic()
    new_batches = 0
    try:
        with torch.inference_mode():
            for ids in _prefetched(context_batches(contexts, config.batch_size)):
                # The collector splits each batch's work between threads by features (compiled kernels
                # that release the GIL), between forward passes: see docs/dashboards.md for why not beside.
                collector.update(source.encode(model.run_to(hook, ids)), skip_first=prepend, token_ids=ids)
                bar.update(ids.numel())
                new_batches += 1
                if on_batch is not None:
                    on_batch(collector.batches_done)
                if time.monotonic() - last_save > config.checkpoint_seconds:
                    _save(collector, config, run_dir)
                    last_save = time.monotonic()
                if stop_after_batches is not None and new_batches >= stop_after_batches:
                    _save(collector, config, run_dir)
                    bar.close()
                    raise Interrupted(f"stopped after {new_batches} batches")
    finally:
        collector.close()
    bar.close()
    # Logit effects and neighbours need no corpus: a thread computes them chunk by chunk while the main
    # thread saves the checkpoint and builds each chunk's examples (pure Python, which leaves the cores
    # mostly free: the thread uses as many intra-op threads as the forward pass did).
    views = _prefetched(weight_view_chunks(model, source, config.n_logits, config.n_neighbours, CHUNK),
                        initializer=functools.partial(torch.set_num_threads, torch.get_num_threads()))
    _save(collector, config, run_dir)
    pass_done = time.perf_counter()
    info = _run_info(model, source, config, collector)
    sink.begin(info)
    try:
        with _gc_paused():
            for chunk in build_dashboards(model, source, config, collector, views):
                sink.write_features(chunk)
        info.elapsed_s = round(time.perf_counter() - started, 2)
        info.timings = {"pass_s": round(pass_done - started, 2),
                        "finalize_s": round(time.perf_counter() - pass_done, 2)}
        sink.finish(info)
    except BaseException:
        sink.abort()  # the checkpoint stays: a rerun finishes from it
        raise
    (run_dir / "run.json").write_text(json.dumps(info.to_dict(), indent=2, default=str))
    return info


@contextmanager
def _gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while finishing, when a sink makes ~130 small objects per
    feature (the database sink's rows; the Parquet sink makes none).

    Those objects hold no reference cycles (reference counting frees them), but their sheer number makes
    the collector walk them again and again: measured 0.4-0.6 s of a 1.5 s finish at 1,536 features.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _prefetched(items: Iterator[T], initializer: Callable[[], None] | None = None) -> Iterator[T]:
    """The same items, each computed on a thread ahead of the caller (e.g. the next batch read and
    tokenised during this batch's forward pass). The first one is started at once, before iteration."""
    pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="prefetch", initializer=initializer)
    upcoming = pool.submit(next, items, None)

    def ahead() -> Iterator[T]:
        nonlocal upcoming
        try:
            while (item := upcoming.result()) is not None:
                upcoming = pool.submit(next, items, None)
                yield item
        finally:
            pool.shutdown(wait=True, cancel_futures=True)

    return ahead()


def _run_info(model: LanguageModel, source: Source, config: RunConfig, collector: Collector) -> RunInfo:
    import transformers

    import featurepedia

    return RunInfo(
        model_id=model.model_id, model_info=model.info, source=source.config(), config=config.to_dict(),
        n_layers=model.n_layers, d_model=model.d_model,
        n_tokens=int(collector.extremes.n_tokens), n_contexts=collector.contexts_done,
        density_threshold=density_rule(source.nonnegative, config.active_fraction),
        versions={"featurepedia": featurepedia.__version__, "torch": torch.__version__,
                  "transformers": transformers.__version__},
    )


def _progress(enabled: bool, total: int, initial: int) -> Any:  # a tqdm bar (tqdm ships no type hints)
    from tqdm.auto import tqdm

    return tqdm(total=total, initial=initial, unit="tok", unit_scale=True, disable=not enabled,
                desc="dashboards", smoothing=0.1)


def _save(collector: Collector, config: RunConfig, run_dir: Path) -> None:
    save_checkpoint(run_dir, config.fingerprint(), collector.state_dict())
    (run_dir / "config.json").write_text(json.dumps(config.to_dict(), indent=2))


def _resume(collector: Collector, config: RunConfig, run_dir: Path) -> None:
    state = load_checkpoint(run_dir, config.fingerprint())
    if state is None:
        if (run_dir / CHECKPOINT).exists():
            log.warning("checkpoint in %s is for another config; starting afresh", run_dir)
        return
    collector.load_state_dict(state)
    log.info("resuming from %d contexts", collector.contexts_done)
