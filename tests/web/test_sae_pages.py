"""Pages say which features are MLP neurons and which are SAE features, and show an SAE's hook point,
architecture, width, k and evaluation from what its build stored."""

from __future__ import annotations

import html
import json
import re

import pytest
from django.urls import reverse

from featurepedia.web.catalog.models import Source
from tests.web.sae_world import D_SAE, EVALUATION, HOOK, K, build, write_tiny_sae

pytestmark = pytest.mark.django_db


@pytest.fixture
def built(tiny_llama, tmp_path):
    """tiny-llama's neurons (1-mlp) and a tiny TopK SAE (1-res-sae) built into the catalog."""
    sae = write_tiny_sae(tmp_path / "sae", tiny_llama.d_model)
    build(tiny_llama, "1-mlp", tmp_path)
    build(tiny_llama, "1-res-sae", tmp_path, sae)
    return sae


def _text(response) -> str:
    """The page's visible text, whitespace collapsed (for phrases that span template lines)."""
    body = re.sub(r"<[^>]+>", " ", response.content.decode())
    return re.sub(r"\s+", " ", html.unescape(body))


def test_the_build_stores_the_sae_config_evaluation_and_training(built):
    source = Source.objects.get(slug="1-res-sae")
    stored = source.config["source"]
    assert stored["architecture"] == "topk" and stored["sae_cfg"]["k"] == K
    assert stored["evaluation"] == EVALUATION and stored["training"]["tokens"] == 1_000_000
    sae = source.sae
    assert sae is not None and (sae.architecture, sae.width, sae.k, sae.d_in) == ("TopK", D_SAE, K, 64)
    assert [f.short for f in sae.headline] == ["FVE", "L0", "CE recovered"]
    assert Source.objects.get(slug="1-mlp").sae is None


def test_sae_source_page_names_sae_features_and_shows_the_figures(client, built):
    response = client.get(reverse("source", args=["tiny-llama", "1-res-sae"]))
    assert response.status_code == 200
    text = _text(response)
    assert "SAE features" in text and "Each feature here is an SAE feature" in text
    assert "the residual stream after layer 1" in text and HOOK in text
    assert "About this SAE" in text and "Architecture TopK" in text
    assert f"Width {D_SAE} features, reading 64 dimensions" in text and f"k {K} active features per token" in text
    assert "Trained on 1,000,000 tokens" in text
    for figure in ("Variance explained (FVE) 81.2%", "L0 4.0", "CE loss recovered 93.1%", "KL divergence 0.0456",
                   "Dead features 5.2%", "Dense features 1.0%", "5,000 held-out tokens"):
        assert figure in text, figure
    assert "Go to SAE feature" in text and "SAE feature Max activation" in text  # the jump form and table
    assert "Each feature here is a neuron" not in text and "MLP neurons" not in text


def test_sae_feature_page_says_sae_feature_with_the_sae_facts(client, built):
    text = _text(client.get(reverse("feature", args=["tiny-llama", "1-res-sae", 5])))
    assert "SAE feature 5 of tiny-llama / 1-res-sae" in text
    assert f"An SAE feature: one direction of a TopK SAE ({D_SAE} features, k = {K}) on the residual stream " \
           f"after layer 1 ( {HOOK} )" in text
    assert "The SAE" in text and "FVE" in text and "81.2%" in text and "CE loss recovered 93.1%" in text
    assert "Neuron 5" not in text


def test_neuron_pages_say_neuron(client, built):
    source = _text(client.get(reverse("source", args=["tiny-llama", "1-mlp"])))
    assert "MLP neurons" in source and "Each feature here is a neuron" in source
    assert "the MLP of layer 1" in source and "blocks.1.mlp.hook_post" in source
    assert "About this SAE" not in source and "SAE feature" not in source
    assert "Neuron Max activation" in source  # the table's first column
    feature = _text(client.get(reverse("feature", args=["tiny-llama", "1-mlp", 5])))
    assert "Neuron 5 of tiny-llama / 1-mlp" in feature and "A neuron of the MLP of layer 1" in feature
    assert "SAE" not in feature.replace("SAE-", "")


def test_home_and_model_pages_tell_the_two_kinds_apart(client, built):
    home = _text(client.get("/"))
    assert "tiny-llama / 1-mlp MLP neurons 128 neurons at blocks.1.mlp.hook_post" in home
    assert f"tiny-llama / 1-res-sae SAE features {D_SAE} SAE features of a TopK SAE (k = {K}) at {HOOK}" in home
    assert "FVE 81.2%" in home and "L0 4.0" in home and "CE recovered 93.1%" in home
    model = _text(client.get(reverse("model", args=["tiny-llama"])))
    assert "128 neurons at blocks.1.mlp.hook_post" in model
    assert f"{D_SAE} SAE features of a TopK SAE (k = {K}) at {HOOK}" in model


def test_an_sae_without_eval_json_says_so_and_a_nan_figure_is_left_out(client, tiny_llama, tmp_path):
    sae = write_tiny_sae(tmp_path / "bare", tiny_llama.d_model, evaluation=None, training=None)
    build(tiny_llama, "1-res-sae", tmp_path, sae)
    text = _text(client.get(reverse("source", args=["tiny-llama", "1-res-sae"])))
    assert "No evaluation figures were stored with this SAE" in text and "Trained on" not in text
    assert "Architecture TopK" in text
    (sae / "eval.json").write_text('{"fve": 0.5, "ce_loss_recovered": NaN}')
    build(tiny_llama, "1-res-sae", tmp_path / "again", sae)
    stored = Source.objects.get(slug="1-res-sae")
    assert stored.config["source"]["evaluation"] == {"fve": 0.5, "ce_loss_recovered": None}
    json.dumps(stored.config, allow_nan=False)  # storable in any database's JSON column
    text = _text(client.get(reverse("source", args=["tiny-llama", "1-res-sae"])))
    assert "Variance explained (FVE) 50.0%" in text and "CE loss recovered" not in text


def test_the_puzzle_of_an_sae_feature_says_sae_feature(client, built):
    from featurepedia.web.game.models import Campaign

    source = Source.objects.get(slug="1-res-sae")
    campaign = Campaign.objects.create(slug="sae", title="Explain the tiny SAE", source=source)
    feature = source.features.filter(max_act__gt=0).order_by("index").first()
    text = _text(client.get(reverse("puzzle", args=[campaign.slug, feature.pk])))
    assert "What does this SAE feature respond to?" in text and f"SAE feature #{feature.index} of" in text
    assert "this neuron" not in text and "neuron #" not in text  # (the site's tagline still says "neurons")
