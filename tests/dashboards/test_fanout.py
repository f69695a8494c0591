"""FanoutSink: one run written to several sinks; a failure aborts every one of them."""

from __future__ import annotations

import pytest

from featurepedia.corpus import ContextSpec
from featurepedia.dashboards import (
    FanoutSink,
    FeatureDashboard,
    ParquetSink,
    RunConfig,
    RunInfo,
    read_features,
    run_dashboards,
)
from featurepedia.sources import source_for

RUN = RunInfo(model_id="m", model_info={}, source={"source_id": "0-mlp"}, config={})


class Recording:
    """A sink that records the calls it gets; ``fail_on`` names a call that raises instead."""

    def __init__(self, fail_on: str = "") -> None:
        self.calls: list[str] = []
        self.features: list[int] = []
        self.fail_on = fail_on

    def _call(self, name: str) -> None:
        self.calls.append(name)
        if name == self.fail_on:
            raise RuntimeError(f"{name} failed")

    def begin(self, run: RunInfo) -> None:
        self._call("begin")

    def write_features(self, features: list[FeatureDashboard]) -> None:
        self.features += [f.index for f in features]
        self._call("write")

    def finish(self, run: RunInfo) -> None:
        self._call("finish")

    def abort(self) -> None:
        self._call("abort")


def test_every_sink_gets_every_call_in_order():
    a, b = Recording(), Recording()
    fan = FanoutSink([a, b])
    fan.begin(RUN)
    fan.write_features([])
    fan.finish(RUN)
    assert a.calls == b.calls == ["begin", "write", "finish"]


def test_abort_reaches_every_sink_even_when_one_fails_to_abort():
    a, b, c = Recording(fail_on="abort"), Recording(), Recording()
    FanoutSink([a, b, c]).abort()  # does not raise: the run's own error is the one to see
    assert a.calls == b.calls == c.calls == ["abort"]


def test_a_run_writes_the_same_features_to_each_sink_and_a_failure_aborts_all(tiny_llama, tmp_path):
    config = RunConfig(model="tiny-llama", source="1-mlp", n_tokens=32 * 16, batch_size=16, top_k=2,
                       quantile_bins=2, per_bin=1, n_negative=1, contexts=ContextSpec(ctx_len=32))
    source = source_for(tiny_llama, config.source)
    recording = Recording()
    run_dashboards(tiny_llama, source, config, FanoutSink([ParquetSink(tmp_path / "b"), recording]),
                   tmp_path / "run", progress=False)
    stored = [f.index for chunk in read_features(tmp_path / "b") for f in chunk]
    assert stored == recording.features == list(range(tiny_llama.d_mlp))
    assert recording.calls[0] == "begin" and recording.calls[-1] == "finish"

    first, failing = Recording(), Recording(fail_on="write")
    with pytest.raises(RuntimeError, match="write failed"):
        run_dashboards(tiny_llama, source, config, FanoutSink([first, failing]), tmp_path / "run", progress=False)
    assert first.calls == ["begin", "write", "abort"] and failing.calls == ["begin", "write", "abort"]
