"""A dashboards pass cut into shards of contexts, computed apart and merged exactly.

Every accumulator is independent of the order of contexts (see collector.py), so a shard of contexts
``[a, b)`` can be computed anywhere (this process, another one, another machine), and its collectors'
states merged into the pass's collectors: the result equals the single pass bit for bit, as long as each
shard's batches are the single pass's batches (shards are cut at multiples of the batch size).

A :class:`ShardRunner` runs the jobs: :class:`InProcessShards` here (tests, and the reference), and
``RayShards`` in ray_shards.py. A job carries the shard's token ids, so workers never read the corpus; they
load the model and sources once per process from the :class:`ShardPlan` (``load_plan``).
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np
import torch
from torch import Tensor

from featurepedia.dashboards.collector import Collector
from featurepedia.dashboards.config import RunConfig
from featurepedia.lm.model import LanguageModel
from featurepedia.sources.base import Source

State = dict[str, Tensor]  # a collector's state_dict


@dataclass(frozen=True)
class ShardSource:
    """What a worker needs to rebuild one source of the pass: its run's config (model, source id, SAE
    folder) and its hook point when the SAE's own files name none."""

    config: RunConfig
    hook: str | None = None


@dataclass(frozen=True)
class ShardPlan:
    """The pass's sources, as a worker rebuilds them (the same on every job)."""

    model_id: str
    sources: tuple[ShardSource, ...]


@dataclass
class ShardJob:
    """One shard: contexts ``first .. first + len(token_ids) - 1`` of the pass.

    Attributes:
        index: the shard's place in the pass (0, 1, ...).
        first: global id of the shard's first context.
        token_ids: [n, T] int32 the shard's contexts.
        due: indices of the sources this shard is computed for (a source resumed further on is not).
    """

    index: int
    first: int
    token_ids: np.ndarray
    due: tuple[int, ...]

    @property
    def n_tokens(self) -> int:
        return int(self.token_ids.size)


class ShardRunner(Protocol):
    """Runs shard jobs and yields each job with its due sources' collector states, in any order."""

    parallelism: int  # how many jobs it can run at once (the pass cuts about 4 shards per slot)

    def start(self) -> None:
        """Get ready (join a cluster): called before the pass, once the model and sources are loaded."""

    def close(self) -> None:
        """Release what start() took; called after the pass, also when it failed."""

    def run(self, model: LanguageModel, sources: Sequence[Source], plan: ShardPlan,
            jobs: Iterator[ShardJob]) -> Iterator[tuple[ShardJob, list[State]]]: ...


def shard_cuts(start: int, stop: int, batch_size: int, n_shards: int, also: Sequence[int] = ()) -> list[tuple[int, int]]:
    """Cut contexts [start, stop) into about ``n_shards`` ranges of whole batches (counted from ``start``, as
    the single pass batches them), also cutting at each position in ``also`` (sources resumed there)."""
    batches = -(-(stop - start) // batch_size)
    per_shard = max(1, -(-batches // max(1, n_shards)))
    cuts = {start, stop, *(p for p in also if start < p < stop)}
    cuts.update(range(start, stop, per_shard * batch_size))
    edges = sorted(cuts)
    return list(zip(edges, edges[1:], strict=False))


def compute_shard(model: LanguageModel, sources: Sequence[Source], configs: Sequence[RunConfig], job: ShardJob,
                  threads: int | None = None) -> list[State]:
    """The collectors of the job's due sources over its contexts, as states (batch by batch, as the single
    pass would: one forward pass to the deepest due hook point, each source consuming its hook point)."""
    from featurepedia.dashboards.runner import consumers  # the single pass's own step

    config = configs[job.due[0]]
    prepend = config.contexts.prepend_bos and model.bos_token_id is not None
    collectors: list[Collector | None] = [None] * len(sources)
    for i in job.due:
        collector = Collector(configs[i], sources[i].n_features, sources[i].nonnegative, threads=threads)
        collector.contexts_done = job.first
        collectors[i] = collector
    depths = [model.hook_point(source.hook_name).depth for source in sources]
    ids = torch.from_numpy(job.token_ids.astype(np.int64))
    try:
        with torch.inference_mode():
            for start in range(0, ids.shape[0], config.batch_size):
                batch = ids[start:start + config.batch_size]
                model.run_through(consumers(sources, collectors, list(job.due), depths, batch, prepend), batch)
    finally:
        for held in collectors:
            if held is not None:
                held.close()
    return [held.state_dict() for held in collectors if held is not None]


def collector_from_state(config: RunConfig, source: Source, state: State) -> Collector:
    """A collector holding a shard's state (to merge into the pass's)."""
    collector = Collector(config, source.n_features, source.nonnegative, threads=1)
    collector.load_state_dict(state)
    return collector


class InProcessShards:
    """Runs every shard in this process, with the model and sources already loaded: in a shuffled order
    when ``shuffle_seed`` is given (so tests see shards finish out of order)."""

    def __init__(self, n_shards: int = 4, shuffle_seed: int | None = None, threads: int | None = None) -> None:
        self.parallelism = max(1, -(-n_shards // 4))
        self.n_shards = n_shards
        self.shuffle_seed = shuffle_seed
        self.threads = threads

    def start(self) -> None:
        pass

    def close(self) -> None:
        pass

    def run(self, model: LanguageModel, sources: Sequence[Source], plan: ShardPlan,
            jobs: Iterator[ShardJob]) -> Iterator[tuple[ShardJob, list[State]]]:
        pending = list(jobs)
        if self.shuffle_seed is not None:
            random.Random(self.shuffle_seed).shuffle(pending)
        configs = [s.config for s in plan.sources]
        for job in pending:
            yield job, compute_shard(model, sources, configs, job, self.threads)


_LOADED: dict[str, tuple[LanguageModel, list[Source]]] = {}


def load_plan(plan: ShardPlan) -> tuple[LanguageModel, list[Source]]:
    """The plan's model and sources, loaded once per process (a worker keeps them for its next jobs)."""
    key = json.dumps([plan.model_id, [(s.config.to_dict(), s.hook) for s in plan.sources]], default=str)
    if key not in _LOADED:
        from featurepedia.dashboards.building import load_model_and_sources

        _LOADED.clear()  # one pass at a time per worker: free the previous model first
        _LOADED[key] = load_model_and_sources(plan.model_id, [(s.config, s.hook) for s in plan.sources])
    return _LOADED[key]


def run_plan_job(plan: ShardPlan, job: ShardJob, threads: int) -> list[State]:
    """A worker's whole job: load (once) and compute the shard with ``threads`` torch threads."""
    torch.set_num_threads(threads)
    model, sources = load_plan(plan)
    return compute_shard(model, sources, [s.config for s in plan.sources], job, threads)

