"""Shards of a dashboards pass as Ray tasks (``featurepedia build --ray auto|ADDRESS``).

Each task gets the shard's token ids and the pass's plan (one object in Ray's store, shared by every task),
loads the model and sources once per worker process (:func:`shards.load_plan`), computes the shard's
collectors with ``cpus`` torch threads and returns their states; the driver merges them (see runner.py).
Ray is an optional dependency (the ``ray`` extra): it is imported only here, when a build asks for it.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from typing import Any

from featurepedia import runtime
from featurepedia.dashboards.shards import ShardJob, ShardPlan, State, run_plan_job
from featurepedia.errors import FeaturepediaError, UsageError
from featurepedia.lm.model import LanguageModel
from featurepedia.sources.base import Source

log = logging.getLogger(__name__)

RAY_MISSING = ("--ray needs Ray, an optional dependency: install it with `pip install 'featurepedia[ray]'` "
               "(or `pip install ray==2.60.0`) on this machine and on every node of the cluster")


class ShardTaskError(FeaturepediaError):
    """A shard failed on a Ray worker."""


def import_ray() -> Any:
    """The ray module, or a UsageError saying how to install it. Import it before anything that loads
    usearch (the search index): ray imported after usearch was seen to crash the process."""
    try:
        import ray
    except ImportError:
        raise UsageError(RAY_MISSING) from None
    return ray


class RayShards:
    """Runs shard jobs as Ray tasks of ``cpus`` CPUs each, at most two per free slot in flight.

    Args:
        address: ``auto`` joins the cluster this machine belongs to (``RAY_ADDRESS``, or one started with
            ``ray start``) and otherwise starts a local one for the build (no dashboard); anything else is
            a cluster address for ``ray.init`` (``HEAD:6379``, or ``ray://HEAD:10001`` for Ray Client).
        cpus: CPUs (and torch threads) of each task.
    """

    def __init__(self, address: str = "auto", cpus: int = 1) -> None:
        if cpus < 1:
            raise UsageError(f"--ray-cpus is {cpus}; give each shard task at least 1 CPU")
        self.address = address
        self.cpus = cpus
        self.ray = import_ray()
        self._connected_here = False
        self.parallelism = 1

    def start(self) -> None:
        """Join (or start) the cluster, unless this process already has; parallelism = its CPUs / cpus."""
        ray = self.ray
        if not ray.is_initialized():
            # Tasks run with the command's numeric settings (runtime.py), wherever they are.
            env = {"env_vars": runtime.configure()}
            try:
                ray.init(address=None if self.address == "auto" else self.address, include_dashboard=False,
                         runtime_env=env, logging_level=logging.WARNING)
            except (ConnectionError, ValueError, RuntimeError) as err:
                raise UsageError(f"cannot reach the Ray cluster at {self.address!r}: {err}; start one with "
                                 "`ray start --head` and give its address (HOST:6379), or use --ray auto") from None
            self._connected_here = True
        total = int(ray.cluster_resources().get("CPU", 0))
        if total < self.cpus:
            raise UsageError(f"the Ray cluster has {total} CPU(s), fewer than the {self.cpus} each shard task asks "
                             "for (--ray-cpus)")
        self.parallelism = max(1, total // self.cpus)
        log.info("Ray cluster: %d CPUs, %d shard tasks at a time", total, self.parallelism)

    def close(self) -> None:
        """Leave the cluster if this object joined it (a local cluster it started stops with it)."""
        if self._connected_here:
            self.ray.shutdown()
            self._connected_here = False

    def run(self, model: LanguageModel, sources: Sequence[Source], plan: ShardPlan,
            jobs: Iterator[ShardJob]) -> Iterator[tuple[ShardJob, list[State]]]:
        ray = self.ray
        task = ray.remote(num_cpus=self.cpus, max_retries=2)(run_plan_job)
        plan_ref = ray.put(plan)
        running: dict[Any, ShardJob] = {}
        pending = iter(jobs)
        exhausted = False
        while True:
            while not exhausted and len(running) < 2 * self.parallelism:
                job = next(pending, None)
                if job is None:
                    exhausted = True
                    break
                running[task.remote(plan_ref, job, self.cpus)] = job
            if not running:
                return
            (done,), _ = ray.wait(list(running), num_returns=1)
            job = running.pop(done)
            try:
                states = ray.get(done)
            except ray.exceptions.RayTaskError as err:
                for ref in running:
                    ray.cancel(ref)
                cause = err.cause if getattr(err, "cause", None) is not None else err
                raise ShardTaskError(
                    f"shard {job.index} (contexts {job.first}-{job.first + len(job.token_ids) - 1}) failed on a Ray "
                    f"worker: {cause}; every node needs the same featurepedia install, model files and SAE folders "
                    "(the same paths, or a shared one; see docs/dashboards.md)") from None
            yield job, states
