"""``build --source A,B,...``: the list and its --sae/--hook options are checked, all-mlp expands, each source
gets its own bundle and run folder, and a rerun resumes the unfinished sources and skips the finished ones."""

from __future__ import annotations

import pytest

from featurepedia.corpus import ContextSpec
from featurepedia.dashboards import RunConfig, read_features, read_run
from featurepedia.dashboards.building import build_runs, plain
from featurepedia.dashboards.source_list import SourceList, SourceRequest, parse_source_list
from featurepedia.errors import FeaturepediaError


def test_all_mlp_expands_to_every_layer():
    assert [r.source_id for r in parse_source_list("all-mlp").expand(4)] == ["0-mlp", "1-mlp", "2-mlp", "3-mlp"]
    mixed = parse_source_list("3-res-sae,all-mlp", ["3-res-sae=/saes/3"], ["blocks.3.hook_resid_post"])
    assert mixed.is_list and mixed.all_mlp
    assert mixed.expand(2) == [SourceRequest("3-res-sae", "/saes/3", "blocks.3.hook_resid_post"),
                               SourceRequest("0-mlp"), SourceRequest("1-mlp")]
    with pytest.raises(FeaturepediaError, match="lists 2-mlp twice: all-mlp already holds 0-mlp .. 3-mlp"):
        parse_source_list("all-mlp,2-mlp").expand(4)


def test_lists_and_their_sae_folders():
    listed = parse_source_list(" 6-mlp, 6-res-sae ,3-mlp", ["6-res-sae=/data/saes/6"])
    assert listed.items == ("6-mlp", "6-res-sae", "3-mlp") and listed.sae == {"6-res-sae": "/data/saes/6"}
    # One SAE source: the bare --sae PATH (a path may hold '=') and --hook NAME are its own.
    bare = parse_source_list("6-mlp,6-res-sae", ["/data/a=b"], ["blocks.6.hook_resid_post"])
    assert bare.sae == {"6-res-sae": "/data/a=b"} and bare.hooks == {"6-res-sae": "blocks.6.hook_resid_post"}
    # One source, as before: --sae PATH (or ID=PATH) whatever its set is called.
    assert parse_source_list("6-res-sae", ["/p"]).single() == SourceRequest("6-res-sae", "/p")
    assert parse_source_list("6-mlp", ["6-mlp=/p"]).single() == SourceRequest("6-mlp", "/p")
    assert parse_source_list("6-mlp").single() == SourceRequest("6-mlp")
    assert not parse_source_list("6-mlp").is_list


@pytest.mark.parametrize(("spec", "sae", "hooks", "message"), [
    ("", [], [], "--source is empty"),
    ("6-mlp,,3-mlp", [], [], "has an empty item"),
    ("6-mlp,mlp", [], [], "'mlp' in --source 6-mlp,mlp is not a source id of the form '<layer>-<set>'"),
    ("6-mlp,all", [], [], "nor all-mlp"),
    ("layer6", [], [], "is not of the form '<layer>-<set>'"),
    ("6-mlp,3-mlp,6-mlp", [], [], "names 6-mlp twice; give each source once"),
    ("all-mlp,all-mlp", [], [], "names all-mlp twice"),
    ("6-mlp,6-res-sae", [], [], "source 6-res-sae needs an SAE: add --sae 6-res-sae=PATH"),
    ("6-mlp,6-res-sae", ["7-res-sae=/p"], [], "--sae 7-res-sae=/p names 7-res-sae, which is not in --source "
                                              "(6-mlp,6-res-sae)"),
    ("all-mlp", ["3-mlp=/p"], [], "names 3-mlp, which is not in --source (all-mlp)"),
    ("6-res-sae,3-res-sae", ["/p"], [], "--sae /p names no source; with several sources give --sae ID=PATH for "
                                        "each (sources that need one here: 6-res-sae, 3-res-sae)"),
    ("6-mlp,6-res-sae", ["/p", "/q"], [], "names no source"),
    ("6-res-sae", ["6-res-sae=/p", "6-res-sae=/q"], [], "gives 6-res-sae twice (/p and /q)"),
    ("6-res-sae", ["6-res-sae="], [], "gives no PATH after '='"),
    ("6-mlp,6-res-sae", ["6-res-sae=/p"], ["6-mlp=blocks.6.mlp.hook_post"], "6-mlp has no --sae 6-mlp=PATH"),
    ("6-mlp,3-mlp", [], ["blocks.6.mlp.hook_post"], "--hook blocks.6.mlp.hook_post names no source"),
])
def test_bad_lists_are_refused_with_the_fix(spec, sae, hooks, message):
    with pytest.raises(FeaturepediaError) as err:
        parse_source_list(spec, sae, hooks)
    assert message in str(err.value)


def _template(**kw):
    options = dict(model="tiny-llama", source="-", n_tokens=32 * 64, batch_size=16, top_k=5, quantile_bins=4,
                   per_bin=2, n_negative=3, contexts=ContextSpec(ctx_len=32, seed=0))
    options.update(kw)
    return RunConfig(**options)


def _features(folder):
    return [f.to_dict() for chunk in read_features(folder) for f in chunk]


@pytest.fixture
def sae(tmp_path, tiny_llama):
    from tests.sources.test_sae import _save_with_saelens

    _save_with_saelens(tmp_path / "sae", tiny_llama.d_model, "topk", "blocks.0.hook_resid_post")
    return str(tmp_path / "sae")


def test_each_source_gets_the_bundle_and_run_folder_of_a_build_alone(data_dir, tmp_path, sae):
    from featurepedia.dashboards.building import build_run

    sources = parse_source_list("all-mlp,0-res-sae", [f"0-res-sae={sae}"])
    built = build_runs(_template(), sources, out=tmp_path / "out", progress=False)
    assert [b.source_id for b in built] == ["0-mlp", "1-mlp", "0-res-sae"] and not any(b.skipped for b in built)
    for b in built:
        assert read_run(tmp_path / "out" / b.source_id).source["source_id"] == b.source_id
        assert (data_dir / "runs" / "tiny-llama" / b.source_id / "checkpoint.safetensors").exists()
    # The same source built alone (afresh, into another bundle) gives the same results and config.
    alone = build_run(_template(source="0-res-sae", sae_path=sae), out=tmp_path / "alone", fresh=True,
                      progress=False)
    assert alone.config == built[2].info.config
    assert _features(tmp_path / "alone") == _features(tmp_path / "out" / "0-res-sae")


def test_an_interrupted_build_resumes_every_source_and_skips_the_finished_ones(data_dir, tmp_path, sae,
                                                                                monkeypatch):
    import featurepedia.dashboards.runner as runner
    from featurepedia.dashboards.collector import Collector

    template = _template(checkpoint_seconds=0)  # a checkpoint after every batch, as a long run has
    sources = parse_source_list("0-mlp,1-mlp,0-res-sae", [sae])
    real_update = Collector.update

    def crash(self, acts, skip_first, token_ids=None):
        if self.batches_done == 2:
            raise KeyboardInterrupt  # the user stops the build in its third batch
        real_update(self, acts, skip_first, token_ids)

    monkeypatch.setattr(Collector, "update", crash)
    with pytest.raises(KeyboardInterrupt):
        build_runs(template, sources, out=tmp_path / "out", progress=False)
    monkeypatch.setattr(Collector, "update", real_update)
    # Rerun: finishing 1-mlp fails (after 0-mlp is done), so the third rerun has one source to skip.
    real_build = runner.build_dashboards
    batches = []

    def failing_for_1_mlp(model, source, *args, **kwargs):
        if source.source_id == "1-mlp":
            raise OSError("disk full")
        return real_build(model, source, *args, **kwargs)

    monkeypatch.setattr(runner, "build_dashboards", failing_for_1_mlp)
    real_stream = runner._stream

    def counting(model, runs, collectors, *args):
        batches.append([c.batches_done for c in collectors])
        return real_stream(model, runs, collectors, *args)

    monkeypatch.setattr(runner, "_stream", counting)
    with pytest.raises(OSError, match="disk full"):
        build_runs(template, sources, out=tmp_path / "out", progress=False)
    assert batches == [[2, 2, 2]]  # resumed from the checkpoints of the first two batches
    monkeypatch.setattr(runner, "build_dashboards", real_build)
    built = build_runs(template, sources, out=tmp_path / "out", progress=False)
    assert [(b.source_id, b.skipped) for b in built] == [("0-mlp", True), ("1-mlp", False), ("0-res-sae", False)]
    assert batches[-1] == [4, 4]  # the unfinished two only finish: the pass is over for them
    skipped = build_runs(template, sources, out=tmp_path / "out", progress=False)
    assert all(b.skipped for b in skipped) and len(batches) == 2
    assert [plain(b.info.to_dict()) for b in skipped] == [plain(b.info.to_dict()) for b in built]
    # The resumed build equals one that was never interrupted.
    fresh = build_runs(template, sources, out=tmp_path / "fresh", fresh=True, progress=False)
    assert not any(b.skipped for b in fresh)
    for b in fresh:
        assert _features(tmp_path / "fresh" / b.source_id) == _features(tmp_path / "out" / b.source_id)


def test_a_missing_or_rewritten_bundle_is_built_again(data_dir, tmp_path):
    sources = parse_source_list("0-mlp,1-mlp")
    build_runs(_template(), sources, out=tmp_path / "out", progress=False)
    (tmp_path / "out" / "1-mlp" / "run.json").unlink()
    again = build_runs(_template(), sources, out=tmp_path / "out", progress=False)
    assert [b.skipped for b in again] == [True, False]
    other = build_runs(_template(), sources, out=tmp_path / "elsewhere", progress=False)
    assert [b.skipped for b in other] == [False, False]  # a new output folder holds neither
    changed = build_runs(_template(n_tokens=32 * 32), sources, out=tmp_path / "elsewhere", progress=False)
    assert [b.skipped for b in changed] == [False, False] and changed[0].info.n_contexts == 32


def test_a_source_list_needs_an_output(data_dir):
    with pytest.raises(FeaturepediaError, match="no sink writes nothing"):
        build_runs(_template(), SourceList(("0-mlp", "1-mlp")), progress=False)
