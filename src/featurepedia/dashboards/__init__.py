"""Feature dashboards: one streaming pass over a corpus -> per-feature examples, stats and effects."""

from featurepedia.dashboards.config import RunConfig
from featurepedia.dashboards.fanout import FanoutSink
from featurepedia.dashboards.parquet import ParquetSink, read_features, read_run
from featurepedia.dashboards.results import Example, FeatureDashboard, RunInfo
from featurepedia.dashboards.runner import Interrupted, Sink, SourceRun, run_dashboards, run_sources

__all__ = ["Example", "FanoutSink", "FeatureDashboard", "Interrupted", "ParquetSink", "RunConfig", "RunInfo",
           "Sink", "SourceRun", "read_features", "read_run", "run_dashboards", "run_sources"]
