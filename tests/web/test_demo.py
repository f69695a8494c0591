"""``featurepedia demo`` and the shipped SAE: found in the package, built, explained and added to the
campaign by the background process next to the default source; a rerun redoes nothing."""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
import pytest

import featurepedia
from featurepedia.sources.sae import shipped
from featurepedia.sources.sae.shipped import shipped_root, shipped_sae, shipped_saes
from featurepedia.web import demo
from featurepedia.web.catalog import building
from featurepedia.web.catalog.models import Feature, Source, SourceMap
from featurepedia.web.explanations import batch
from featurepedia.web.explanations.models import Explanation
from featurepedia.web.game.setup import default_campaign
from tests.web.sae_world import D_SAE, write_tiny_sae

pytestmark = pytest.mark.django_db

MODEL, DEFAULT, SAE = "tiny-llama", "1-mlp", "1-res-sae"
TOKENS = 64 * 16


@pytest.fixture
def shipped_root_dir(tmp_path, monkeypatch, tiny_llama):
    """A package data folder that ships a tiny TopK SAE for tiny-llama as 1-res-sae."""
    root = tmp_path / "shipped"
    write_tiny_sae(root / MODEL / SAE, tiny_llama.d_model)
    monkeypatch.setattr(shipped, "shipped_root", lambda: root)
    return root


def test_the_shipped_sae_folder_is_inside_the_package():
    assert shipped_root() == Path(featurepedia.__file__).parent / "sources" / "sae" / "data"


def test_a_shipped_sae_is_found_only_when_it_is_complete(shipped_root_dir):
    folder = shipped_root_dir / MODEL / SAE
    assert shipped_sae(MODEL, SAE) == folder and shipped_saes(MODEL) == {SAE: folder}
    assert shipped_sae(MODEL, "0-res-sae") is None and shipped_sae("smollm2-135m", "6-res-sae") is None
    assert shipped_saes("other-model") == {}
    partial = shipped_root_dir / MODEL / "0-res-sae"
    partial.mkdir()
    (partial / "cfg.json").write_text("{}")  # no weights (yet): not shipped
    assert shipped_sae(MODEL, "0-res-sae") is None and shipped_saes(MODEL) == {SAE: folder}
    # A model given as a path or hub id never names a folder here.
    assert shipped_sae(f"../shipped/{MODEL}", SAE) is None and shipped_saes("org/model") == {}


def test_without_a_shipped_sae_the_demo_only_scores_as_before(data_dir, monkeypatch):
    monkeypatch.setattr("featurepedia.web.setup", lambda migrate=True: None)  # the test database is ready
    assert shipped_saes(MODEL) == {}
    demo.prepare_default_source(MODEL, DEFAULT, TOKENS, print, progress=False, saes={})
    assert demo.work_left(MODEL, DEFAULT, {}) == [f"map the features of {MODEL}/{DEFAULT}",
                                                  "score 128 explanations with form",
                                                  "explain 128 features with pattern and score them"]
    assert not Source.objects.filter(kind="sae").exists()


def test_the_demo_builds_the_shipped_sae_in_the_background_and_a_rerun_redoes_nothing(
        shipped_root_dir, data_dir, monkeypatch):
    monkeypatch.setattr("featurepedia.web.setup", lambda migrate=True: None)  # the test database is ready
    # The map's layout is tested on its own (test_feature_map.py); here a quick stand-in keeps UMAP out.
    monkeypatch.setattr("featurepedia.web.catalog.feature_map.layout",
                        lambda directions, params: np.random.default_rng(0).random((len(directions), 2)))
    saes = shipped_saes(MODEL)
    said: list[str] = []
    # Before the site opens: the default source, as always, and nothing of the SAE.
    demo.prepare_default_source(MODEL, DEFAULT, TOKENS, said.append, progress=False, saes=saes)
    assert not Source.objects.filter(slug=SAE).exists()
    left = demo.work_left(MODEL, DEFAULT, saes)
    assert left == [f"build the SAE features of {MODEL}/{SAE}", f"map the features of {MODEL}/{DEFAULT}",
                    "score the explanations with form (128 now, and theirs)",
                    "explain the features with pattern and score them (128 now, and theirs)"]
    started: list[list[str]] = []
    monkeypatch.setattr(subprocess, "Popen", lambda command, **kw: started.append(command) or "child")
    assert demo.background_work(MODEL, DEFAULT, saes, TOKENS, said.append) == "child"
    assert said[-1].startswith(f"in the background: build the SAE features of {MODEL}/{SAE}; then map the "
                               f"features of {MODEL}/{DEFAULT}; then score")
    command = started[0]
    assert command[command.index("demo"):] == ["demo", "--no-serve", "--quiet", "--tokens", str(TOKENS)]

    # What that process does (scoring and the pattern explainer left out: neither is this test's subject,
    # and the explainer takes about a second per feature).
    scoring: list[set[str]] = []

    def score_pending(features, **kwargs):
        scoring.append(set(features.values_list("source__slug", flat=True)))
        return 0, 0

    real_explain_features = batch.explain_features

    def explain_features(features, explainer, **kwargs):
        if explainer == "token-list":
            return real_explain_features(features, explainer, **kwargs)
        assert explainer == "pattern" and kwargs["score"]  # each scored as it is written
        explaining.append(set(features.values_list("source__slug", flat=True)))
        todo = list(features.exclude(explanations__method=explainer))
        Explanation.objects.bulk_create([Explanation(feature=f, method=explainer, text="a pattern") for f in todo])
        return len(todo)

    explaining: list[set[str]] = []
    monkeypatch.setattr(batch, "score_pending", score_pending)
    monkeypatch.setattr(batch, "explain_features", explain_features)
    demo.finish_demo(MODEL, DEFAULT, saes, TOKENS, said.append, progress=False)
    sae = Source.objects.get(model__slug=MODEL, slug=SAE)
    assert sae.status == "ready" and sae.kind == "sae" and sae.features.count() == D_SAE
    assert sae.n_tokens == Source.objects.get(slug=DEFAULT).n_tokens  # the same tokens as the default source
    assert sae.config["config"]["sae_path"] == str(saes[SAE])  # where live inference reads its weights
    assert sae.config["source"]["evaluation"]["fve"] == 0.8123  # the pages' figures
    assert Explanation.objects.filter(feature__source=sae, method="token-list").count() == D_SAE
    assert Explanation.objects.filter(method="pattern").count() == 128 + D_SAE
    assert scoring == [{DEFAULT, SAE}]  # one scoring pass over both sources
    assert explaining == [{DEFAULT}, {SAE}]  # then the pattern explanations of each, neurons first
    assert said[-1] == f"explained {D_SAE} features of {MODEL}/{SAE} with pattern and scored them"
    campaign = default_campaign(MODEL, DEFAULT)
    assert campaign is not None and campaign.source.slug == DEFAULT
    assert campaign.feature_queryset().filter(source=sae).count() == D_SAE
    assert campaign.feature_queryset().count() == 128 + D_SAE  # the neurons stay in it
    assert f"the 128 neurons and the {D_SAE} SAE features of layer 1 of {MODEL}" in campaign.description
    assert set(SourceMap.objects.values_list("source__slug", flat=True)) == {DEFAULT, SAE}  # both mapped
    assert any(s.startswith(f"mapped the features of {MODEL}/{SAE} in ") for s in said)
    # The stand-ins scored nothing: the token lists and the pattern explanations are left to score.
    assert demo.work_left(MODEL, DEFAULT, saes) == [f"score {2 * (128 + D_SAE)} explanations with form"]

    # A rerun builds and explains nothing again, and the campaign gains nothing.
    def no_build(*args, **kwargs):
        raise AssertionError("a finished source was built again")

    monkeypatch.setattr(building, "build_source", no_build)
    features = dict(Feature.objects.values_list("pk", "source__slug"))
    explanations = Explanation.objects.count()
    demo.prepare_default_source(MODEL, DEFAULT, TOKENS, said.append, progress=False, saes=saes)
    demo.finish_demo(MODEL, DEFAULT, saes, TOKENS, said.append, progress=False)
    assert dict(Feature.objects.values_list("pk", "source__slug")) == features
    assert Explanation.objects.count() == explanations
    assert campaign.feature_queryset().count() == 128 + D_SAE


def test_an_sae_that_cannot_be_built_is_reported_and_scoring_goes_on(shipped_root_dir, data_dir, monkeypatch):
    monkeypatch.setattr("featurepedia.web.setup", lambda migrate=True: None)
    (shipped_root_dir / MODEL / SAE / "eval.json").write_text("{broken")
    saes = shipped_saes(MODEL)
    demo.prepare_default_source(MODEL, DEFAULT, TOKENS, print, progress=False, saes=saes)
    monkeypatch.setattr(batch, "score_pending", lambda features, **kwargs: (3, 0))
    real_explain_features = batch.explain_features
    monkeypatch.setattr(batch, "explain_features", lambda features, explainer, **kwargs: (
        real_explain_features(features, explainer, **kwargs) if explainer == "token-list" else 0))
    said: list[str] = []
    demo.finish_demo(MODEL, DEFAULT, saes, TOKENS, said.append, progress=False)
    assert any(f"could not build {MODEL}/{SAE}" in s and "eval.json is not valid JSON" in s for s in said)
    assert said[-1] == "scored 3 explanations"
    assert demo.work_left(MODEL, DEFAULT, saes)[0] == f"build the SAE features of {MODEL}/{SAE}"  # tried again


def test_the_site_search_index_follows_the_background_process_until_it_ends(monkeypatch):
    from featurepedia.web.explanations import search_index

    class Worker:  # runs for two checks, then ends
        def __init__(self):
            self.polls = 0

        def poll(self):
            self.polls += 1
            return None if self.polls <= 2 else 0

    synced = []
    monkeypatch.setattr(search_index, "explanation_index", lambda: synced.append(True))
    thread = demo.follow_index(Worker(), every=0.01)
    thread.join(timeout=10)
    assert not thread.is_alive() and thread.daemon
    assert len(synced) == 3  # twice while it ran, once more for what it wrote last
