"""OpenAI's neuron-explainer format (NeuronRecord and NeuronSimulationResults files), written here in small
files, imported field by field; bad files give errors that name the file, line and field."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from featurepedia.cli import main
from featurepedia.web.catalog.models import ActivationExample, Feature, Source
from featurepedia.web.data_io.openai_neurons import import_openai_neurons
from featurepedia.web.data_io.records import ImportFormatError
from featurepedia.web.explanations.models import Explanation, ExplanationScore


def _record(tokens: list[str], acts: list[float]) -> dict:
    return {"dataclass_name": "ActivationRecord", "tokens": tokens, "activations": acts}


def _neuron(layer: int, neuron: int) -> dict:
    return {"dataclass_name": "NeuronRecord",
            "neuron_id": {"dataclass_name": "NeuronId", "layer_index": layer, "neuron_index": neuron},
            "random_sample": [_record([" the", " sky"], [0.0, 0.05]), _record([" blue", " sea"], [0.8, 0.0])],
            "random_sample_by_quantile": None, "quantile_boundaries": None,
            "mean": 0.01, "variance": 0.1, "skewness": float("nan"), "kurtosis": 3.0,
            "most_positive_activation_records": [_record([" deep", " blue"], [0.1, 2.5]),
                                                 _record([" navy", " blue"], [0.2, 3.5])]}


def _results(layer: int, neuron: int, text: str, score: float) -> dict:
    return {"dataclass_name": "NeuronSimulationResults",
            "neuron_id": {"dataclass_name": "NeuronId", "layer_index": layer, "neuron_index": neuron},
            "scored_explanations": [{"dataclass_name": "ScoredExplanation", "explanation": text,
                                     "scored_simulation": {"dataclass_name": "ScoredSimulation",
                                                           "scored_sequence_simulations": [],
                                                           "ev_correlation_score": score, "rsquared_score": 0.2,
                                                           "absolute_dev_explained_score": 0.1}}]}


@pytest.fixture
def dataset(tmp_path) -> Path:
    """Their layout: collated-activations/<layer>/<neuron>.json and explanations/<layer>/<neuron>.jsonl."""
    root = tmp_path / "gpt2_small_data"
    for layer, neuron in ((5, 0), (5, 3), (6, 1)):
        acts = root / "collated-activations" / str(layer) / f"{neuron}.json"
        acts.parent.mkdir(parents=True, exist_ok=True)
        acts.write_text(json.dumps(_neuron(layer, neuron)))
        expl = root / "explanations" / str(layer) / f"{neuron}.jsonl"
        expl.parent.mkdir(parents=True, exist_ok=True)
        expl.write_text(json.dumps(_results(layer, neuron, f" the colour blue ({layer}/{neuron})", 0.45)) + "\n")
    return root


def test_dataset_imports_field_by_field(db, dataset):
    results = import_openai_neurons([dataset], model="gpt2-small")
    assert sorted(str(s) for s, _ in results) == ["gpt2-small/5-mlp", "gpt2-small/6-mlp"]
    source = Source.objects.get(slug="5-mlp")
    assert (source.kind, source.hook_name, source.n_features, source.status) == (
        "neurons", "blocks.5.mlp.hook_post", 4, "ready")
    assert not source.nonnegative and source.active_fraction == 0.1 and source.first_shown == 0
    feature = Feature.objects.get(source=source, index=3)
    assert (feature.max_act, feature.min_act) == (3.5, 0.0)
    assert feature.density == 0.25  # one of the random sample's four tokens is above 0.1 * 3.5
    examples = list(ActivationExample.objects.filter(feature=feature).order_by("bin", "rank"))
    assert [(e.bin, e.rank, e.tokens, e.values, e.max_index) for e in examples] == [
        ("q0", 0, [" the", " sky"], [0.0, 0.05], 1), ("q0", 1, [" blue", " sea"], [0.8, 0.0], 0),
        ("top", 0, [" navy", " blue"], [0.2, 3.5], 1), ("top", 1, [" deep", " blue"], [0.1, 2.5], 1)]
    explanation = Explanation.objects.get(feature=feature)
    assert (explanation.text, explanation.method, explanation.author) == (
        "the colour blue (5/3)", "openai-neuron-explainer", None)
    score = ExplanationScore.objects.get(explanation=explanation)
    assert (score.scorer, score.value, score.status) == ("openai-simulation", 0.45, "ok")
    assert score.details == {"rsquared_score": 0.2, "absolute_dev_explained_score": 0.1}


def test_importing_again_updates_without_duplicates(db, dataset):
    import_openai_neurons([dataset], model="gpt2-small")
    path = dataset / "explanations" / "5" / "3.jsonl"
    path.write_text(json.dumps(_results(5, 3, "blue things", float("nan"))) + "\n")
    import_openai_neurons([dataset], model="gpt2-small")
    assert Feature.objects.count() == 3 and ActivationExample.objects.count() == 12
    assert Explanation.objects.count() == 3 and ExplanationScore.objects.count() == 3
    score = ExplanationScore.objects.get(explanation__feature__index=3)
    assert score.explanation.text == "blue things" and score.value is None and score.status == "failed"


def test_bare_explanation_named_by_its_path(db, tmp_path):
    path = tmp_path / "7" / "12.jsonl"
    path.parent.mkdir()
    path.write_text(json.dumps({"explanation": "commas", "score": 0.3}) + "\n")
    [(source, _)] = import_openai_neurons([path], model="gpt2-xl", source="mine")
    assert str(source) == "gpt2-xl/mine"
    assert Explanation.objects.get(feature__index=12).scores.get().value == 0.3


@pytest.mark.parametrize(("record", "message"), [
    ({**_neuron(1, 2), "random_sample": [_record(["a", "b"], [1.0])]},
     r"n\.json:1: field 'random_sample' item 0 has 1 activations for 2 tokens"),
    ({**_neuron(1, 2), "neuron_id": {"layer_index": "one", "neuron_index": 2}},
     r"n\.json:1: field 'layer_index' should be a whole number"),
    ({"neuron_id": {"layer_index": 1, "neuron_index": 2}, "hello": []}, r"n\.json:1: not a NeuronRecord"),
    ({"explanation": "x"}, r"n\.json:1: field 'neuron_id' is missing, and the path is not <layer>/<neuron>"),
    ({**_results(1, 2, "x", 0.1), "scored_explanations": [{"explanation": 5}]},
     r"n\.json:1: field 'explanation' should be a string"),
])
def test_bad_files_name_file_line_and_field(db, tmp_path, record, message):
    path = tmp_path / "n.json"
    path.write_text(json.dumps(record))
    with pytest.raises(ImportFormatError, match=message):
        import_openai_neurons([path], model="m")
    assert not Feature.objects.exists()


def test_cli_imports_and_needs_a_model(db, dataset, capsys):
    assert main(["import-openai-neurons", "--model", "gpt2-small", str(dataset / "collated-activations" / "6")]) == 0
    assert "imported gpt2-small/6-mlp: 1 features, 4 examples, 0 explanations, 0 scores" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        main(["import-openai-neurons", str(dataset)])


def test_imported_neuron_page_shows(db, dataset, client):
    import_openai_neurons([dataset], model="gpt2-small")
    page = client.get("/gpt2-small/5-mlp/3")
    assert page.status_code == 200 and "the colour blue (5/3)" in page.content.decode()


def test_refuses_to_overwrite_a_source_built_here(world, dataset):
    from featurepedia.errors import UsageError

    with pytest.raises(UsageError, match="source tiny/1-mlp was built on this site.*e.g. 1-mlp-openai"):
        import_openai_neurons([dataset / "collated-activations" / "5"], model="tiny", source="1-mlp")
    assert ActivationExample.objects.filter(feature__source=world["source"]).count() == 3 * 13
