"""Several sources in one pass: each source's results equal a run of it alone, the model runs once per batch
to the deepest hook point, and each source resumes from its own checkpoint."""

from __future__ import annotations

import pytest

from featurepedia.corpus import ContextSpec
from featurepedia.dashboards import (
    Interrupted,
    ParquetSink,
    RunConfig,
    SourceRun,
    read_features,
    read_run,
    run_dashboards,
    run_sources,
)
from featurepedia.errors import UsageError
from featurepedia.sources import source_for

N_TOKENS = 32 * 96  # 6 batches of 16 contexts
# Neurons and an SAE at the same hook point (the deepest), neurons below it and an SAE between: the neurons'
# in-place BOS zeroing must reach neither the later layers nor the SAE that reads the same activation.
SOURCES = ["2-mlp", "2-mlp-sae", "0-mlp", "1-res-sae"]


@pytest.fixture(scope="module")
def model():
    from featurepedia.lm.tiny import tiny_llama

    return tiny_llama(n_layer=4)


@pytest.fixture(scope="module")
def saes(model, tmp_path_factory):
    from tests.sources.test_sae import _save_with_saelens

    folder = tmp_path_factory.mktemp("saes")
    _save_with_saelens(folder / "res1", model.d_model, "topk", "blocks.1.hook_resid_post")
    _save_with_saelens(folder / "mlp2", model.d_mlp, "jumprelu", "blocks.2.mlp.hook_post")
    return {"1-res-sae": str(folder / "res1"), "2-mlp-sae": str(folder / "mlp2")}


def _config(source_id, saes, **kw):
    options = dict(model="tiny-llama", source=source_id, sae_path=saes.get(source_id), n_tokens=N_TOKENS,
                   batch_size=16, top_k=5, quantile_bins=4, per_bin=2, n_negative=3,
                   contexts=ContextSpec(ctx_len=32, seed=0))
    options.update(kw)
    return RunConfig(**options)


def _run(model, saes, folder, source_ids, **kw):
    """A pass of ``source_ids`` together: each source's bundle in folder/<id>, run folder in folder/run-<id>."""
    runs = []
    for source_id in source_ids:
        config = _config(source_id, saes)
        source = source_for(model, source_id, sae_path=config.sae_path)
        runs.append(SourceRun(source, config, ParquetSink(folder / source_id), folder / f"run-{source_id}"))
    return run_sources(model, runs, progress=False, **kw)


def _features(folder):
    return [f.to_dict() for chunk in read_features(folder) for f in chunk]


@pytest.fixture(scope="module")
def alone(model, saes, tmp_path_factory):
    """Each source built on its own, as a single-source build does."""
    tmp = tmp_path_factory.mktemp("alone")
    results = {}
    for source_id in SOURCES:
        config = _config(source_id, saes)
        source = source_for(model, source_id, sae_path=config.sae_path)
        run_dashboards(model, source, config, ParquetSink(tmp / source_id), tmp / f"run-{source_id}", progress=False)
        results[source_id] = _features(tmp / source_id)
    return tmp, results


@pytest.fixture(scope="module")
def together(model, saes, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("together")
    infos = _run(model, saes, tmp, SOURCES)
    return tmp, infos, {source_id: _features(tmp / source_id) for source_id in SOURCES}


def test_one_pass_gives_each_source_the_results_of_a_run_of_it_alone(alone, together, model):
    alone_dir, want = alone
    tmp, infos, got = together
    assert [info.source["source_id"] for info in infos] == SOURCES
    for source_id in SOURCES:
        features = got[source_id]
        assert len(features) == (96 if source_id.endswith("sae") else model.d_mlp)
        assert all(f["examples"] for f in features[:5])
        # Every feature's examples (values, tokens, bins), histogram, density, extremes, logits, neighbours.
        assert features == want[source_id], source_id
        single, multi = read_run(alone_dir / source_id), read_run(tmp / source_id)
        for field in ("source", "config", "n_tokens", "n_contexts", "density_threshold", "model_id"):
            assert getattr(multi, field) == getattr(single, field), (source_id, field)
        for name in ("checkpoint.safetensors", "config.json", "run.json"):
            assert (tmp / f"run-{source_id}" / name).exists()


def test_the_model_runs_once_per_batch_and_stops_at_the_deepest_hook(model, saes, tmp_path):
    first, last = [], []
    handles = [model.blocks[0].register_forward_pre_hook(lambda m, a: first.append(1)),
               model.blocks[3].register_forward_pre_hook(lambda m, a: last.append(1))]
    batches = []
    try:
        _run(model, saes, tmp_path, SOURCES, on_batch=batches.append)
    finally:
        for handle in handles:
            handle.remove()
    assert batches == [1, 2, 3, 4, 5, 6]
    assert len(first) == len(batches)  # one forward pass per batch for the four sources
    assert last == []  # layer 3 is past every hook point: never computed


def test_an_interrupted_multi_source_run_resumes_to_the_same_result(together, model, saes, tmp_path):
    _, _, want = together
    with pytest.raises(Interrupted):
        _run(model, saes, tmp_path, SOURCES, stop_after_batches=2)
    for source_id in SOURCES:
        assert (tmp_path / f"run-{source_id}" / "checkpoint.safetensors").exists()
        assert not (tmp_path / source_id / "run.json").exists()
    seen = []
    _run(model, saes, tmp_path, SOURCES, on_batch=seen.append)
    assert seen == [3, 4, 5, 6]  # every source went on from its checkpoint
    assert {source_id: _features(tmp_path / source_id) for source_id in SOURCES} == want


def _count_updates(monkeypatch):
    """Record (features, batches done before) of every collector update."""
    from featurepedia.dashboards.collector import Collector

    updates = []
    real = Collector.update

    def counting(self, acts, skip_first, token_ids=None):
        updates.append((acts.shape[-1], self.batches_done))
        real(self, acts, skip_first, token_ids)

    monkeypatch.setattr(Collector, "update", counting)
    return updates


def test_a_source_that_got_further_joins_the_pass_where_its_checkpoint_is(alone, model, saes, tmp_path,
                                                                         monkeypatch):
    """0-mlp ran alone for 4 batches; a pass of 0-mlp and 1-res-sae starts at batch 1 for the SAE, and
    the neurons' collector takes batches 5 and 6 only."""
    _, want = alone
    with pytest.raises(Interrupted):
        _run(model, saes, tmp_path, ["0-mlp"], stop_after_batches=4)
    updates = _count_updates(monkeypatch)
    _run(model, saes, tmp_path, ["0-mlp", "1-res-sae"])
    neurons = [b for width, b in updates if width == model.d_mlp]
    assert neurons == [4, 5]
    assert [b for width, b in updates if width == 96] == [0, 1, 2, 3, 4, 5]
    for source_id in ("0-mlp", "1-res-sae"):
        assert _features(tmp_path / source_id) == want[source_id]


def test_a_finished_source_is_not_passed_again(together, model, saes, tmp_path, monkeypatch):
    """A source whose checkpoint holds the whole corpus only finishes; the pass runs for the others."""
    _, _, want = together
    _run(model, saes, tmp_path, ["1-res-sae"])
    updates = _count_updates(monkeypatch)
    _run(model, saes, tmp_path, ["0-mlp", "1-res-sae"])
    assert updates == [(model.d_mlp, b) for b in range(6)]
    assert _features(tmp_path / "1-res-sae") == want["1-res-sae"]
    assert _features(tmp_path / "0-mlp") == want["0-mlp"]


def test_sources_that_cannot_share_a_pass_are_refused(model, saes, tmp_path):
    def runs(*configs):
        return [SourceRun(source_for(model, c.source, sae_path=c.sae_path), c, ParquetSink(tmp_path / f"b{i}"),
                          tmp_path / f"r{i}") for i, c in enumerate(configs)]

    with pytest.raises(UsageError, match="must share n_tokens: '0-mlp' has 3072, '1-mlp' has 1024"):
        run_sources(model, runs(_config("0-mlp", saes), _config("1-mlp", saes, n_tokens=1024)), progress=False)
    with pytest.raises(UsageError, match="must share contexts"):
        run_sources(model, runs(_config("0-mlp", saes), _config("1-mlp", saes, contexts=ContextSpec(ctx_len=16))),
                    progress=False)
    with pytest.raises(UsageError, match="'0-mlp' is given twice"):
        run_sources(model, runs(_config("0-mlp", saes), _config("0-mlp", saes)), progress=False)
    with pytest.raises(UsageError, match="at least one source"):
        run_sources(model, [], progress=False)
