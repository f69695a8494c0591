"""The whole dashboards pass on a tiny model: correct against brute force, deterministic, resumable."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from featurepedia.corpus import ContextSpec, iter_contexts
from featurepedia.dashboards import (
    Interrupted,
    ParquetSink,
    read_features,
    read_run,
    run_dashboards,
)
from featurepedia.sources import source_for
from tests.dashboards.tiny_runs import build_bundle, bundle_features, tiny_config

N_TOKENS = 32 * 120


def _config(**kw):
    return tiny_config(**{"n_tokens": N_TOKENS, "seed": 0, **kw})


def _run(model, tmp_path, name, config=None, **kw):
    return bundle_features(build_bundle(model, tmp_path, name, config or _config(), **kw))


@pytest.fixture(scope="module")
def built(tiny_llama, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("pipeline")
    return tmp, _run(tiny_llama, tmp, "a")


def _all_activations(model, config):
    """Brute force: every context's activations, computed one context at a time."""
    contexts = list(iter_contexts(model.tokenizer, config.contexts, config.n_contexts))
    acts = [model.run_to("blocks.1.mlp.hook_post", torch.tensor([c]))[0] for c in contexts]
    return contexts, torch.stack(acts)  # [N, T, F]


def test_every_feature_has_a_dashboard(built, tiny_llama):
    tmp, features = built
    assert [f.index for f in features] == list(range(tiny_llama.d_mlp))
    run = read_run(tmp / "a")
    assert run.n_contexts == N_TOKENS // 32 and run.n_tokens == run.n_contexts * 31  # BOS not counted
    assert run.config["contexts"]["seed"] == 0 and "torch" in run.versions


def test_results_match_brute_force(built, tiny_llama):
    tmp, features = built
    contexts, acts = _all_activations(tiny_llama, _config())
    counted = acts[:, 1:, :]  # BOS excluded
    for f in (0, 7, 99):
        feature = features[f]
        assert feature.max_act == pytest.approx(float(counted[:, :, f].max()), rel=1e-4, abs=1e-6)
        ctx_max = counted[:, :, f].amax(dim=1)
        top = [e for e in feature.examples if e.bin == "top"]
        want = sorted(ctx_max.tolist(), reverse=True)[:5]
        np.testing.assert_allclose([e.max_value for e in top], want, rtol=1e-3, atol=1e-5)
        for e in feature.examples:
            index = contexts.index(e.token_ids)
            np.testing.assert_allclose(e.values[1:], acts[index, 1:, f].numpy(), rtol=1e-3, atol=1e-5)
            assert e.values[0] == 0.0  # BOS position stored as 0
        threshold = 0.1 * float(counted[:, :, f].max())
        density = float((counted[:, :, f] > threshold).float().mean())
        assert feature.density == pytest.approx(density, abs=0.01)
        for e in feature.examples:
            if e.bin == "negative":
                assert e.max_value <= threshold + 1e-6
            elif e.bin.startswith("q"):
                assert e.max_value > threshold - 1e-6
        assert sum(feature.hist_counts) == counted.shape[0] * counted.shape[1]


def test_quantile_groups_rise(built):
    _, features = built
    for feature in features[:20]:
        groups = {}
        for e in feature.examples:
            if e.bin.startswith("q"):
                groups.setdefault(int(e.bin[1:]), []).append(e.max_value)
        keys = sorted(groups)
        for lo, hi in zip(keys, keys[1:], strict=False):
            assert max(groups[lo]) <= min(groups[hi]) + 1e-6


def test_logit_effects_and_neighbours(built, tiny_llama):
    _, features = built
    w_out = tiny_llama.family.mlp_out_weight(tiny_llama.blocks[1]).detach()
    f = features[3]
    effects = tiny_llama.logit_effects(w_out[3:4])[0]
    want = effects.topk(10).values.tolist()
    np.testing.assert_allclose([v for _, v in f.top_logits], want, rtol=1e-3, atol=1e-4)
    assert [v for _, v in f.bottom_logits] == sorted(v for _, v in f.bottom_logits)
    unit = torch.nn.functional.normalize(w_out, dim=1)
    sims = unit @ unit[3]
    sims[3] = -2
    assert f.neighbours[0][0] == int(sims.argmax())
    assert 3 not in [i for i, _ in f.neighbours]


def test_deterministic(built, tiny_llama, tmp_path):
    _, first = built
    second = _run(tiny_llama, tmp_path, "b")
    assert [f.to_dict() for f in first] == [f.to_dict() for f in second]


def test_resume_after_interruption_gives_identical_results(built, tiny_llama, tmp_path):
    _, uninterrupted = built
    config = _config()
    with pytest.raises(Interrupted):
        _run(tiny_llama, tmp_path, "c", config, stop_after_batches=3)
    seen = []
    resumed = _run(tiny_llama, tmp_path, "c", config, on_batch=seen.append)
    assert seen[0] == 4  # continued after the third batch instead of starting again
    assert [f.to_dict() for f in resumed] == [f.to_dict() for f in uninterrupted]
    assert json.loads((tmp_path / "run-c" / "config.json").read_text())["n_tokens"] == N_TOKENS


def test_a_run_leaves_the_callers_torch_threads_alone(tiny_llama, tmp_path):
    before = torch.get_num_threads()
    _run(tiny_llama, tmp_path, "t")
    assert torch.get_num_threads() == before


def test_an_error_in_the_collector_stops_the_run(tiny_llama, tmp_path, monkeypatch):
    from featurepedia.dashboards.collector import Collector

    real_update = Collector.update

    def failing(self, acts, skip_first, token_ids=None):
        if self.batches_done == 2:
            raise RuntimeError("accumulator broke on batch 2")
        real_update(self, acts, skip_first, token_ids)

    monkeypatch.setattr(Collector, "update", failing)
    with pytest.raises(RuntimeError, match="batch 2"):
        _run(tiny_llama, tmp_path, "e")
    assert not (tmp_path / "e" / "run.json").exists()  # nothing half-written passes for a finished bundle


def test_an_error_in_a_background_parquet_write_stops_the_run(tiny_llama, tmp_path, monkeypatch):
    import pyarrow.parquet as pq

    real_write = pq.ParquetWriter.write_table
    calls = []

    def failing(self, table, *args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise OSError("disk full")
        real_write(self, table, *args, **kwargs)

    monkeypatch.setattr(pq.ParquetWriter, "write_table", failing)
    with pytest.raises(OSError, match="disk full"):
        _run(tiny_llama, tmp_path, "w", _config(n_tokens=N_TOKENS // 4))
    assert not (tmp_path / "w" / "run.json").exists()


def test_a_changed_config_does_not_resume_a_stale_checkpoint(tiny_llama, tmp_path):
    with pytest.raises(Interrupted):
        _run(tiny_llama, tmp_path, "d", _config(), stop_after_batches=2)
    seen = []
    _run(tiny_llama, tmp_path, "d", _config(contexts=ContextSpec(ctx_len=32, seed=5)), on_batch=seen.append)
    assert seen[0] == 1


class _Planted:
    """Unpickling this runs code (it touches a file): what a checkpoint must never do."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        import pathlib

        return pathlib.Path.touch, (self.marker,)


@pytest.mark.parametrize("name", ["checkpoint.safetensors", "checkpoint.pt"])
def test_a_pickled_checkpoint_is_never_unpickled(tiny_llama, tmp_path, name):
    import pickle

    from featurepedia.dashboards.checkpoint import CheckpointError

    run_dir = tmp_path / "run-p"
    run_dir.mkdir()
    marker = tmp_path / "code-ran"
    torch.save({"fingerprint": _config().fingerprint(), "state": _Planted(marker)}, run_dir / name,
               pickle_protocol=pickle.HIGHEST_PROTOCOL)
    if name == "checkpoint.safetensors":  # the checkpoint's own name: refused, and the fix is said
        with pytest.raises(CheckpointError, match="delete it to start the run afresh"):
            _run(tiny_llama, tmp_path, "p")
    else:  # any other file in the run folder is not a checkpoint at all
        _run(tiny_llama, tmp_path, "p", _config(n_tokens=N_TOKENS // 4))
    assert not marker.exists()


def test_a_corpus_shorter_than_one_context_says_how_long_it_is(tiny_llama, tmp_path):
    from featurepedia.corpus.contexts import CorpusTooShortError
    from featurepedia.errors import FeaturepediaError

    short = tmp_path / "short.txt"
    short.write_text("A few words only.")
    config = _config(contexts=ContextSpec(corpus=str(short), ctx_len=32))
    with pytest.raises(CorpusTooShortError, match=r"has \d+ tokens .* fewer than one context of 32") as err:
        _run(tiny_llama, tmp_path, "s", config)
    assert isinstance(err.value, FeaturepediaError) and "context length of at most" in str(err.value)


def test_gpt2_and_resid_sources_run(tiny_gpt2, tmp_path):
    features = _run(tiny_gpt2, tmp_path, "g", _config(model="tiny-gpt2", source="0-mlp", n_tokens=32 * 20))
    assert len(features) == 256 and all(f.examples for f in features[:5])


def test_sae_source_dashboards(tiny_llama, tmp_path):
    """An SAE source end to end: non-negative features, density = fraction of tokens > 0."""
    from tests.sources.test_sae import _save_with_saelens

    _save_with_saelens(tmp_path / "sae", tiny_llama.d_model, "topk", "blocks.1.hook_resid_post")
    config = _config(source="1-res-sae", n_tokens=32 * 30)
    source = source_for(tiny_llama, "1-res-sae", sae_path=tmp_path / "sae")
    run_dashboards(tiny_llama, source, config, ParquetSink(tmp_path / "b"), tmp_path / "run", progress=False)
    features = [f for chunk in read_features(tmp_path / "b") for f in chunk]
    assert len(features) == 96
    contexts = list(iter_contexts(tiny_llama.tokenizer, config.contexts, config.n_contexts))
    hidden = tiny_llama.run_to("blocks.1.hook_resid_post", torch.tensor(contexts))
    acts = source.encode(hidden)[:, 1:, :]  # [N, T-1, F], BOS excluded
    for f in (0, 17, 95):
        want = float((acts[:, :, f] > 0).float().mean())
        assert features[f].density == pytest.approx(want, abs=1e-9)
        assert features[f].max_act == pytest.approx(float(acts[:, :, f].max()), rel=1e-4, abs=1e-6)
        assert all(e.max_value <= 0 for e in features[f].examples if e.bin == "negative")
    assert read_run(tmp_path / "b").density_threshold == "activation > 0"


def test_finishing_does_not_read_the_corpus_again(tiny_llama, tmp_path, monkeypatch):
    """The collector keeps the tokens of the contexts it holds (so a streamed HF corpus is read once)."""
    import featurepedia.dashboards.runner as runner

    reads = []
    real = runner.iter_contexts
    monkeypatch.setattr(runner, "iter_contexts", lambda *args, **kwargs: reads.append(1) or real(*args, **kwargs))
    features = _run(tiny_llama, tmp_path, "k")
    assert len(features) == tiny_llama.d_mlp and all(f.examples for f in features)
    assert len(reads) == 1


def test_a_run_failing_while_finishing_releases_the_sink_and_a_rerun_completes(tiny_llama, tmp_path, monkeypatch):
    """The Parquet sink's writer thread and files are released, the half-written folder is not taken for
    a bundle, and the checkpoint lets the rerun finish without a new pass."""
    import threading

    import featurepedia.dashboards.runner as runner
    from featurepedia.dashboards.parquet import BundleError

    real = runner.build_dashboards

    def fail_after_first_chunk(*args, **kwargs):
        chunks = real(*args, **kwargs)
        yield next(chunks)
        raise OSError("disk full")

    monkeypatch.setattr(runner, "build_dashboards", fail_after_first_chunk)
    config = _config(n_tokens=32 * 40)
    source = source_for(tiny_llama, config.source)
    with pytest.raises(OSError, match="disk full"):
        run_dashboards(tiny_llama, source, config, ParquetSink(tmp_path / "f"), tmp_path / "run-f", progress=False)
    assert not [t for t in threading.enumerate() if t.name.startswith("parquet")]
    with pytest.raises(BundleError):
        read_run(tmp_path / "f")
    monkeypatch.setattr(runner, "build_dashboards", real)
    batches = []
    run_dashboards(tiny_llama, source, config, ParquetSink(tmp_path / "f"), tmp_path / "run-f", progress=False,
                   on_batch=batches.append)
    assert batches == []  # finished from the checkpoint
    assert len([f for chunk in read_features(tmp_path / "f") for f in chunk]) == tiny_llama.d_mlp


def test_a_checkpoint_of_the_old_format_is_not_resumed(tiny_llama, tmp_path, caplog):
    """A checkpoint written before sampling keys were hashed from global context ids (format 1) would mix
    two sampling schemes in one result: the run starts afresh and says why."""
    import logging

    from safetensors.torch import load_file, save_file

    config = _config()
    with pytest.raises(Interrupted):
        _run(tiny_llama, tmp_path, "o", config, stop_after_batches=2)
    path = tmp_path / "run-o" / "checkpoint.safetensors"
    save_file(load_file(str(path)), str(path), metadata={"fingerprint": config.fingerprint()})  # no format: 1
    seen = []
    with caplog.at_level(logging.WARNING, logger="featurepedia.dashboards.runner"):
        _run(tiny_llama, tmp_path, "o", config, on_batch=seen.append)
    assert seen[0] == 1
    assert "older version of the pass" in caplog.text and "starting afresh" in caplog.text
