"""GET /api/feature/{model}/{source}/{index}: Neuronpedia's feature shape, from the database."""

from __future__ import annotations

import pytest

from featurepedia.web.explanations.models import Explanation, ExplanationScore

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fresh_cache")]


def test_the_feature_has_neuronpedias_fields_and_the_clients_spellings(client, world, make_user):
    cats = world["features"][0]
    alice = make_user("alice")
    human = Explanation.objects.create(feature=cats, text="the word cat", author=alice)
    ExplanationScore.objects.create(explanation=human, scorer="form", version="2", value=0.8, status="ok")
    Explanation.objects.create(feature=cats, text="cats, kittens", method="llm:smollm2-135m")
    Explanation.objects.create(feature=cats, text="a draft", author=alice, status="draft")

    body = client.get("/api/feature/tiny/1-mlp/0").json()
    assert (body["modelId"], body["layer"], body["source"], body["index"]) == ("tiny", "1-mlp", "1-mlp", 0)
    assert body["hookName"] == "blocks.1.mlp.hook_post"
    assert body["frac_nonzero"] == cats.density and body["maxActApprox"] == cats.max_act
    assert body["pos_str"] == [" meow"] and body["pos_values"] == [1.2]
    assert body["neg_str"] == [" dog"] and body["neg_values"] == [-1.0]
    assert body["topkCosSimIndices"] == [1] and body["topkCosSimValues"] == [0.5]
    assert body["freq_hist_data_bar_heights"] == [5, 3, 1]
    assert body["freq_hist_data_bar_values"] == pytest.approx([1 / 6, 0.5, 5 / 6], rel=1e-5)
    assert body["logits_hist_data_bar_heights"] == [] and body["logits_hist_data_bar_values"] == []

    stored = {e.pk: e for e in cats.examples.all()}
    assert len(body["activations"]) == len(stored) == 13
    for a in body["activations"]:
        e = stored[int(a["id"])]
        assert (a["modelId"], a["layer"], a["source"], a["index"]) == ("tiny", "1-mlp", "1-mlp", 0)
        assert a["tokens"] == e.tokens and a["values"] == e.values and a["bin"] == e.bin and a["rank"] == e.rank
        assert a["maxValue"] == e.max_value and a["maxValueTokenIndex"] == e.max_index
        assert a["minValue"] == min(e.values)
    # The feature page's order: top by rank, then quantile groups strongest first, then non-activating.
    assert [a["bin"] for a in body["activations"]] == ["top"] * 6 + ["q1"] * 3 + ["negative"] * 4
    top, quantile = body["activations"][0], body["activations"][6]
    assert (top["binMin"], top["binMax"], top["binContains"]) == (1.0, 1.0, None)
    assert (quantile["binMin"], quantile["binMax"], quantile["binContains"]) == (0.5, 0.5, 1.0)

    explanations = body["explanations"]
    assert [e["description"] for e in explanations] == ["the word cat", "cats, kittens"]  # scored first, no draft
    first, machine = explanations
    assert (first["modelId"], first["layer"], first["source"], first["index"]) == ("tiny", "1-mlp", "1-mlp", 0)
    assert first["id"] == str(human.pk) and first["typeName"] == "human" and first["explanationModelName"] is None
    assert first["author"] == "alice"
    assert first["scores"] == [{"id": str(human.scores.get().pk), "value": 0.8, "explanationScoreTypeName": "form",
                                "explanationScoreModelName": "2", "status": "ok"}]
    assert machine["typeName"] == "llm" and machine["explanationModelName"] == "smollm2-135m"


def test_the_trailing_slash_variant_answers_the_same(client, world):
    assert client.get("/api/feature/tiny/1-mlp/2/").json() == client.get("/api/feature/tiny/1-mlp/2").json()


@pytest.mark.parametrize(("address", "status", "says"), [
    ("/api/feature/nope/1-mlp/0", 404, "no model 'nope'; models here: tiny"),
    ("/api/feature/tiny/nope/0", 404, "model 'tiny' has no source 'nope'; its sources: 1-mlp"),
    ("/api/feature/tiny/1-mlp/3", 404, "no feature 3 in tiny/1-mlp; it has features 0 to 2"),
    ("/api/feature/tiny/1-mlp/99999999999999999999999999", 404, "it has features 0 to 2"),
    ("/api/feature/tiny/1-mlp/-1", 400, "feature index -1 is negative; tiny/1-mlp has features 0 to 2"),
    ("/api/feature/tiny/1-mlp/cat", 400, "path.index: Input should be a valid integer"),
    ("/api/feature/tiny%00/1-mlp/0", 404, "no model"),
])
def test_what_does_not_exist_says_what_does(client, world, address, status, says):
    response = client.get(address)
    assert response.status_code == status
    body = response.json()
    assert body["ok"] is False and body["status"] == status and says in body["error"]


def test_a_feature_without_a_stored_dashboard_says_so(client, world):
    world["features"][1].delete()
    body = client.get("/api/feature/tiny/1-mlp/1").json()
    assert body["status"] == 404 and "has no dashboard stored" in body["error"]
