"""A pass cut into shards, computed out of order and merged, equals the single pass (tiny model)."""

from __future__ import annotations

import json

import pytest

from featurepedia.dashboards import (
    Interrupted,
    ParquetSink,
    read_run,
)
from featurepedia.dashboards.runner import SourceRun, run_sources
from featurepedia.dashboards.shards import InProcessShards, shard_cuts
from featurepedia.sources import source_for
from tests.dashboards.tiny_runs import build_bundle, bundle_features, tiny_config

N_TOKENS = 32 * 100  # 100 contexts: 7 batches of 16 (the last one short)


def _config(**kw):
    return tiny_config(**{"n_tokens": N_TOKENS, "seed": 4, **kw})


def _run(model, tmp_path, name, config=None, **kw):
    return _read(build_bundle(model, tmp_path, name, config or _config(), **kw))


def _read(bundle):
    features = [f.to_dict() for f in bundle_features(bundle)]
    run = read_run(bundle).to_dict()
    for key in ("elapsed_s", "timings"):
        run.pop(key)
    return features, run


@pytest.fixture(scope="module")
def single(tiny_llama, tmp_path_factory):
    return _run(tiny_llama, tmp_path_factory.mktemp("single"), "one")


def test_shard_cuts_are_whole_batches_and_cut_where_sources_resume():
    assert shard_cuts(0, 100, 16, 3) == [(0, 48), (48, 96), (96, 100)]
    assert shard_cuts(32, 100, 16, 2, also=[64, 0, 100]) == [(32, 64), (64, 80), (80, 100)]
    assert shard_cuts(0, 10, 16, 8) == [(0, 10)]
    for a, b in shard_cuts(16, 1000, 16, 7):
        assert (a - 16) % 16 == 0 and (b - 16) % 16 == 0 or b == 1000


@pytest.mark.parametrize("n_shards, seed", [(3, 0), (7, 1)])
def test_a_sharded_pass_in_any_order_equals_the_single_pass(single, tiny_llama, tmp_path, n_shards, seed):
    sharded = _run(tiny_llama, tmp_path, "s", shards=InProcessShards(n_shards=n_shards, shuffle_seed=seed, threads=1))
    assert sharded[1] == single[1]
    assert sharded[0] == single[0]


def test_a_sharded_pass_resumes_a_single_pass_checkpoint(single, tiny_llama, tmp_path):
    config = _config()
    with pytest.raises(Interrupted):
        _run(tiny_llama, tmp_path, "r", config, stop_after_batches=2)
    resumed = _run(tiny_llama, tmp_path, "r", config, shards=InProcessShards(n_shards=4, shuffle_seed=3))
    assert resumed == single
    assert json.loads((tmp_path / "run-r" / "config.json").read_text())["n_tokens"] == N_TOKENS


def test_several_sources_sharded_equal_each_alone(tiny_llama, tmp_path):
    """Two sources at different hook points, one resumed further on than the other, in one sharded pass."""
    configs = [_config(source="0-mlp"), _config(source="1-mlp")]
    alone = [_run(tiny_llama, tmp_path, f"alone-{c.source}", c) for c in configs]
    with pytest.raises(Interrupted):  # 1-mlp alone gets 3 batches ahead
        _run(tiny_llama, tmp_path, "both-1-mlp", configs[1], stop_after_batches=3)
    runs = [SourceRun(source_for(tiny_llama, c.source), c, ParquetSink(tmp_path / f"both-{c.source}"),
                      tmp_path / f"run-both-{c.source}") for c in configs]
    run_sources(tiny_llama, runs, progress=False, shards=InProcessShards(n_shards=5, shuffle_seed=2))
    for config, want in zip(configs, alone, strict=True):
        assert _read(tmp_path / f"both-{config.source}") == want


def test_a_sharded_pass_refuses_the_single_pass_test_hooks(tiny_llama, tmp_path):
    from featurepedia.errors import UsageError

    with pytest.raises(UsageError, match="sharded pass"):
        _run(tiny_llama, tmp_path, "h", shards=InProcessShards(), stop_after_batches=1)
