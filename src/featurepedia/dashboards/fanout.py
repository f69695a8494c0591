"""A sink that sends one run to several sinks (the database and a Parquet bundle in one pass)."""

from __future__ import annotations

import logging
from collections.abc import Sequence

from featurepedia.dashboards.results import FeatureDashboard, RunInfo
from featurepedia.dashboards.runner import Sink

log = logging.getLogger(__name__)


class FanoutSink:
    """Passes every call on to each of ``sinks``, in order."""

    def __init__(self, sinks: Sequence[Sink]) -> None:
        self.sinks = list(sinks)

    def begin(self, run: RunInfo) -> None:
        for sink in self.sinks:
            sink.begin(run)

    def write_features(self, features: list[FeatureDashboard]) -> None:
        for sink in self.sinks:
            sink.write_features(features)

    def finish(self, run: RunInfo) -> None:
        for sink in self.sinks:
            sink.finish(run)

    def abort(self) -> None:
        """Abort every sink, even when one of them fails to: each holds its own files or threads, and the
        run's own error (not an abort's) is the one the caller should see."""
        for sink in self.sinks:
            try:
                sink.abort()
            except Exception:
                log.exception("aborting %s failed", type(sink).__name__)
