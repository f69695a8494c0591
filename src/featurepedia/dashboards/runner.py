"""The dashboards pipeline: one streaming pass over the corpus, then per-feature results to a sink.

tokens -> model up to the hook layer (stopping there) -> source.encode -> Collector; resumable from a
checkpoint in ``run_dir``; then FeatureDashboards (examples, histogram, density, logit effects,
neighbours) are written to the sink in chunks of features.

Several sources share one pass (:func:`run_sources`): the model runs once per batch to the deepest of their
hook points, and each source encodes its hook point's activation as the forward pass goes by; each keeps its
own collector, checkpoint, run folder and sink, exactly as if it had been run alone.
"""

from __future__ import annotations

import functools
import gc
import itertools
import json
import logging
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, TypeVar

import numpy as np
import torch
from torch import Tensor

from featurepedia.corpus.contexts import context_batches, iter_contexts
from featurepedia.dashboards.checkpoint import CheckpointError, load_checkpoint, save_checkpoint, stale_reason
from featurepedia.dashboards.collector import Collector
from featurepedia.dashboards.config import RunConfig
from featurepedia.dashboards.density import density_rule
from featurepedia.dashboards.effects import WeightViews, weight_view_chunks
from featurepedia.dashboards.finalize import CHUNK, build_dashboards
from featurepedia.dashboards.results import FeatureDashboard, RunInfo
from featurepedia.dashboards.shards import (
    ShardJob,
    ShardPlan,
    ShardRunner,
    ShardSource,
    State,
    collector_from_state,
    shard_cuts,
)
from featurepedia.errors import UsageError
from featurepedia.lm.model import LanguageModel
from featurepedia.sources.base import Source

log = logging.getLogger(__name__)

T = TypeVar("T")

RUN_RECORD = "run.json"  # in a source's run folder: its finished run's description
# What sources of one pass must agree on: they read the same batches of the same contexts.
SHARED_OPTIONS = ("model", "contexts", "n_tokens", "batch_size")


class Sink(Protocol):
    """Where results go: the Parquet bundle here, the database in web/catalog."""

    def begin(self, run: RunInfo) -> None: ...

    def write_features(self, features: list[FeatureDashboard]) -> None: ...

    def finish(self, run: RunInfo) -> None: ...

    def abort(self) -> None:
        """The run failed after begin(): release what begin() took (files, threads); keep what is stored."""


class Interrupted(Exception):
    """Raised by a test's ``stop_after`` hook to simulate a crash mid-run."""


@dataclass
class SourceRun:
    """One source of a pass: what it computes, where its results go and where its checkpoint lives.

    Attributes:
        run_dir: the source's own folder for its checkpoint, config.json and run.json.
    """

    source: Source
    config: RunConfig
    sink: Sink
    run_dir: Path


def run_dashboards(
    model: LanguageModel,
    source: Source,
    config: RunConfig,
    sink: Sink,
    run_dir: Path,
    progress: bool = True,
    stop_after_batches: int | None = None,
    on_batch: Callable[[int], None] | None = None,
    shards: ShardRunner | None = None,
) -> RunInfo:
    """Compute every feature's dashboard and write them to ``sink``.

    Args:
        run_dir: where the checkpoint and the run's config live; a rerun with the same config resumes.
        stop_after_batches: stop (raising Interrupted) after this many new batches — for resume tests.
        on_batch: called after each batch of the pass with the number of batches done.
        shards: compute the pass as shards of contexts on this runner (in-process, Ray) and merge them;
            the results equal the single pass's.
    Returns:
        The run's description (also saved as ``run_dir/run.json``).
    """
    (info,) = run_sources(model, [SourceRun(source, config, sink, run_dir)], progress=progress,
                          stop_after_batches=stop_after_batches, on_batch=on_batch, shards=shards)
    return info


def run_sources(
    model: LanguageModel,
    runs: Sequence[SourceRun],
    progress: bool = True,
    stop_after_batches: int | None = None,
    on_batch: Callable[[int], None] | None = None,
    shards: ShardRunner | None = None,
) -> list[RunInfo]:
    """Compute the dashboards of several sources in one pass over the corpus, each to its own sink.

    Each source resumes from its own checkpoint: the pass starts at the earliest source's position, and a
    source that got further (say, run alone before) joins when the pass reaches it, so each source's results
    equal those of a run of it alone. After the pass the sources are finished one after another; one that
    fails to finish leaves the others' checkpoints complete, so a rerun finishes them without a new pass.

    Args:
        runs: the sources, with configs that agree on SHARED_OPTIONS and distinct source ids and run folders.
        stop_after_batches / on_batch: as for :func:`run_dashboards` (batches of the shared pass; not with
            ``shards``).
        shards: as for :func:`run_dashboards`.
    Returns:
        Each source's run description, in the order of ``runs`` (also saved as its ``run_dir/run.json``).
    """
    started = time.perf_counter()
    _check_shared(runs)
    collectors = []
    for run in runs:
        run.run_dir.mkdir(parents=True, exist_ok=True)
        collector = Collector(run.config, run.source.n_features, run.source.nonnegative)
        _resume(collector, run.config, run.run_dir)
        collectors.append(collector)
    try:
        if shards is None:
            updated = _stream(model, runs, collectors, progress, stop_after_batches, on_batch)
        else:
            if stop_after_batches is not None or on_batch is not None:
                raise UsageError("stop_after_batches and on_batch follow the single pass's batches; a sharded "
                                 "pass has none")
            shards.start()
            try:
                updated = _stream_shards(model, runs, collectors, shards, progress)
            finally:
                shards.close()
    finally:
        for collector in collectors:
            collector.close()
    # Logit effects and neighbours need no corpus: a thread computes them chunk by chunk while the main
    # thread saves the checkpoints and builds each chunk's examples (pure Python, which leaves the cores
    # mostly free: the thread uses as many intra-op threads as the forward pass did).
    first_views = _weight_views(model, runs[0])
    for i in sorted(updated):
        _save(collectors[i], runs[i].config, runs[i].run_dir)
    pass_done = time.perf_counter()
    return [_finish(model, run, collector, first_views if i == 0 else _weight_views(model, run), started,
                    pass_done)
            for i, (run, collector) in enumerate(zip(runs, collectors, strict=True))]


def _check_shared(runs: Sequence[SourceRun]) -> None:
    """Refuse sources that cannot share a pass, saying which option differs."""
    if not runs:
        raise UsageError("a dashboards pass needs at least one source")
    seen: dict[str, str] = {}
    for run in runs:
        source_id = run.source.source_id
        if source_id in seen.values():
            raise UsageError(f"source {source_id!r} is given twice; give each source of a pass once")
        folder = str(run.run_dir.resolve())
        if folder in seen:
            raise UsageError(f"sources {seen[folder]!r} and {source_id!r} share the run folder {run.run_dir}; "
                             "give each its own (checkpoints would overwrite each other)")
        seen[folder] = source_id
    first = runs[0]
    for run in runs[1:]:
        for option in SHARED_OPTIONS:
            want, found = getattr(first.config, option), getattr(run.config, option)
            if want != found:
                raise UsageError(
                    f"sources of one pass read the same batches, so they must share {option}: "
                    f"{first.source.source_id!r} has {want!r}, {run.source.source_id!r} has {found!r}")


def _stream(model: LanguageModel, runs: Sequence[SourceRun], collectors: list[Collector], progress: bool,
            stop_after_batches: int | None, on_batch: Callable[[int], None] | None) -> set[int]:
    """The pass over the corpus: every batch goes once through the model, to the deepest hook point of the
    sources it is due for. Returns the indices of the sources it updated (their checkpoints are not yet
    saved with the last batches)."""
    config = runs[0].config
    spec = config.contexts
    prepend = spec.prepend_bos and model.bos_token_id is not None
    lead = min(collectors, key=lambda c: c.contexts_done)  # the pass starts where the earliest source is
    position, batches_done = lead.contexts_done, lead.batches_done
    depths = [model.hook_point(run.source.hook_name).depth for run in runs]
    bar = _progress(progress, config.n_contexts * spec.ctx_len, position * spec.ctx_len, len(runs))
    contexts = iter_contexts(model.tokenizer, spec, config.n_contexts)
    for _ in range(position):  # deterministic stream: skip what every checkpoint holds
        next(contexts, None)
    save_every = min(run.config.checkpoint_seconds for run in runs)
    last_save = time.monotonic()
    updated: set[int] = set()
    unsaved: set[int] = set()
    new_batches = 0

    def save_unsaved() -> None:
        for i in sorted(unsaved):
            _save(collectors[i], runs[i].config, runs[i].run_dir)
        unsaved.clear()

    with torch.inference_mode():
        for ids in _prefetched(context_batches(contexts, config.batch_size)):
            due = _due(runs, collectors, position, ids.shape[0])
            # The collectors split each batch's work between threads by features (compiled kernels that
            # release the GIL), between the model's layers: see docs/dashboards.md for why not beside.
            if due:  # always so: the earliest source is due for every batch
                model.run_through(consumers([run.source for run in runs], collectors, due, depths, ids, prepend),
                                  ids)
            position += ids.shape[0]
            batches_done += 1
            updated.update(due)
            unsaved.update(due)
            bar.update(ids.numel())
            new_batches += 1
            if on_batch is not None:
                on_batch(batches_done)
            if time.monotonic() - last_save > save_every:
                save_unsaved()
                last_save = time.monotonic()
            if stop_after_batches is not None and new_batches >= stop_after_batches:
                save_unsaved()
                bar.close()
                raise Interrupted(f"stopped after {new_batches} batches")
    bar.close()
    return updated


def _stream_shards(model: LanguageModel, runs: Sequence[SourceRun], collectors: list[Collector],
                   shards: ShardRunner, progress: bool) -> set[int]:
    """The pass as shards of contexts run by ``shards`` and merged into the collectors. The driver reads and
    tokenises the corpus (workers get token ids) and merges finished shards in corpus order, so that a
    checkpoint always holds a whole prefix of the corpus (a rerun resumes from it, sharded or not). Returns
    the indices of the sources it updated, as :func:`_stream` does."""
    config = runs[0].config
    spec = config.contexts
    positions = [c.contexts_done for c in collectors]
    start, stop = min(positions), config.n_contexts
    if start >= stop:
        return set()
    cuts = shard_cuts(start, stop, config.batch_size, 4 * shards.parallelism, positions)
    plan = ShardPlan(model.model_id, tuple(ShardSource(run.config, run.source.hook_name if run.config.sae_path
                                                       else None) for run in runs))
    contexts = iter_contexts(model.tokenizer, spec, stop)
    for _ in range(start):
        next(contexts, None)

    def jobs() -> Iterator[ShardJob]:
        for index, (a, b) in enumerate(cuts):
            rows = list(itertools.islice(contexts, b - a))
            if rows:
                yield ShardJob(index, a, np.asarray(rows, dtype=np.int32),
                               tuple(i for i, p in enumerate(positions) if p <= a))
            if len(rows) < b - a:  # the corpus ran out (as the single pass would stop there)
                return

    bar = _progress(progress, config.n_contexts * spec.ctx_len, start * spec.ctx_len, len(runs))
    updated: set[int] = set()
    unsaved: set[int] = set()
    finished: dict[int, tuple[ShardJob, list[State]]] = {}
    merge_next = 0
    last_save = time.monotonic()
    save_every = min(run.config.checkpoint_seconds for run in runs)
    for job, states in shards.run(model, [run.source for run in runs], plan, jobs()):
        finished[job.index] = (job, states)
        while merge_next in finished:
            done, done_states = finished.pop(merge_next)
            for i, state in zip(done.due, done_states, strict=True):
                collectors[i].merge(collector_from_state(runs[i].config, runs[i].source, state))
                updated.add(i)
                unsaved.add(i)
            bar.update(done.n_tokens)
            merge_next += 1
        if time.monotonic() - last_save > save_every and unsaved:
            for i in sorted(unsaved):
                _save(collectors[i], runs[i].config, runs[i].run_dir)
            unsaved.clear()
            last_save = time.monotonic()
    bar.close()
    return updated


def _due(runs: Sequence[SourceRun], collectors: list[Collector], position: int, n: int) -> list[int]:
    """The sources whose next context is the batch at ``position`` (of ``n`` contexts); the others are
    further on and join later."""
    due = []
    for i, collector in enumerate(collectors):
        if collector.contexts_done == position:
            due.append(i)
        elif collector.contexts_done < position + n:
            raise CheckpointError(
                f"the checkpoint of {runs[i].source.source_id} in {runs[i].run_dir} holds "
                f"{collector.contexts_done} contexts, which is not where a batch of the pass starts "
                f"({position}, {position + n}, ...); delete it (or build with --fresh) to start that source afresh")
    return due


def consumers(sources: Sequence[Source], collectors: Sequence[Collector | None], due: list[int],
              depths: list[tuple[int, int]], ids: Tensor, prepend: bool
              ) -> list[tuple[str, Callable[[Tensor], None]]]:
    """Each due source's step of the forward pass: encode its hook point's activation, update its collector.

    The collector zeroes the BOS position in place, so a source whose encoding is the activation itself
    (neurons) works on a copy unless it is the pass's very last consumer: later layers, or another source
    at the same hook point, still read it.
    """
    deepest = max(depths[i] for i in due)
    last = [i for i in due if depths[i] == deepest][-1]

    def step(i: int) -> Callable[[Tensor], None]:
        source, collector = sources[i], collectors[i]
        assert collector is not None, "a due source has a collector"

        def consume(hidden: Tensor) -> None:
            acts = source.encode(hidden)
            if i != last and _shares_memory(acts, hidden):
                acts = acts.clone()
            collector.update(acts, skip_first=prepend, token_ids=ids)

        return consume

    return [(sources[i].hook_name, step(i)) for i in due]


def _shares_memory(a: Tensor, b: Tensor) -> bool:
    return a.untyped_storage().data_ptr() == b.untyped_storage().data_ptr()


def _weight_views(model: LanguageModel, run: SourceRun) -> Iterator[WeightViews]:
    """The source's logit effects and neighbours, computed on a thread one chunk ahead of the caller."""
    return _prefetched(weight_view_chunks(model, run.source, run.config.n_logits, run.config.n_neighbours, CHUNK),
                       initializer=functools.partial(torch.set_num_threads, torch.get_num_threads()))


def _finish(model: LanguageModel, run: SourceRun, collector: Collector, views: Iterator[WeightViews],
            started: float, pass_done: float) -> RunInfo:
    """Build the source's dashboards from its collector and write them to its sink (timings: the shared
    pass, then this source's own finishing)."""
    finish_started = time.perf_counter()
    info = _run_info(model, run.source, run.config, collector)
    run.sink.begin(info)
    try:
        with _gc_paused():
            for chunk in build_dashboards(model, run.source, run.config, collector, views):
                run.sink.write_features(chunk)
        info.elapsed_s = round(time.perf_counter() - started, 2)
        info.timings = {"pass_s": round(pass_done - started, 2),
                        "finalize_s": round(time.perf_counter() - finish_started, 2)}
        run.sink.finish(info)
    except BaseException:
        run.sink.abort()  # the checkpoint stays: a rerun finishes from it
        raise
    (run.run_dir / RUN_RECORD).write_text(json.dumps(info.to_dict(), indent=2, default=str))
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


def _progress(enabled: bool, total: int, initial: int, n_sources: int = 1) -> Any:  # a tqdm bar (untyped)
    from tqdm.auto import tqdm

    return tqdm(total=total, initial=initial, unit="tok", unit_scale=True, disable=not enabled,
                desc="dashboards" if n_sources == 1 else f"dashboards of {n_sources} sources", smoothing=0.1)


def _save(collector: Collector, config: RunConfig, run_dir: Path) -> None:
    save_checkpoint(run_dir, config.fingerprint(), collector.state_dict())
    (run_dir / "config.json").write_text(json.dumps(config.to_dict(), indent=2))


def _resume(collector: Collector, config: RunConfig, run_dir: Path) -> None:
    state = load_checkpoint(run_dir, config.fingerprint())
    if state is None:
        if (reason := stale_reason(run_dir, config.fingerprint())) is not None:
            log.warning("not resuming the checkpoint in %s: %s; starting afresh", run_dir, reason)
        return
    collector.load_state_dict(state)
    log.info("resuming from %d contexts", collector.contexts_done)
