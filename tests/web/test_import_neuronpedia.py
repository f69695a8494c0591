"""Neuronpedia's dataset export format, written here in small files, imported field by field; bad files give
errors that name the file, line and field."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from featurepedia.cli import main
from featurepedia.web.catalog.models import ActivationExample, Feature, Source
from featurepedia.web.data_io.neuronpedia import import_neuronpedia
from featurepedia.web.data_io.records import ImportFormatError
from featurepedia.web.explanations.models import Explanation

BASE = {"modelId": "gpt2-small", "layer": "6-res-jb"}


def _feature(index: int) -> dict:
    return {**BASE, "index": str(index), "maxActApprox": 12.5 + index, "frac_nonzero": 0.002,
            "creatorId": "x", "hookName": "blocks.6.hook_resid_pre",
            "pos_str": [" cat", " kitten"], "pos_values": [0.9, 0.7], "neg_str": [" car"], "neg_values": [-0.5],
            "freq_hist_data_bar_heights": [10, 4, 1], "freq_hist_data_bar_values": [1.0, 5.0, 9.0],
            "topkCosSimIndices": [index, 7], "topkCosSimValues": [1.0, 0.42], "vector": []}


def _activation(index: int, tokens: list[str], values: list[float], bin_min: float | None = -1) -> dict:
    return {**BASE, "index": str(index), "id": f"a{index}{len(values)}", "tokens": tokens, "values": values,
            "maxValue": max(values), "minValue": min(values), "maxValueTokenIndex": values.index(max(values)),
            "binMin": bin_min, "binMax": None if bin_min is None or bin_min < 0 else bin_min + 1.0,
            "binContains": None, "creatorId": "x", "dataSource": None}


def _explanation(index: int, text: str, kind: str = "oai_token-act-pair", model: str = "gpt-4o-mini") -> dict:
    return {**BASE, "index": str(index), "id": f"e{index}", "authorId": "x", "description": text,
            "typeName": kind, "explanationModelName": model, "embedding": None}


def _jsonl_gz(path: Path, rows: list[dict]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with gzip.open(path, "wt") as f:
        f.write("".join(json.dumps(r) + "\n" for r in rows))


@pytest.fixture
def export_folder(tmp_path) -> Path:
    """A folder in the layout of Neuronpedia's export-data: model, source, and batches of the three tables."""
    root = tmp_path / "gpt2-small" / "6-res-jb"
    root.mkdir(parents=True)
    (root / "model.jsonl").write_text(json.dumps({"id": "gpt2-small", "displayName": "GPT-2 Small", "layers": 12,
                                                  "dimension": 768, "creatorId": "x"}) + "\n")
    (root / "source.jsonl").write_text(json.dumps({"id": "6-res-jb", "modelId": "gpt2-small", "setName": "res-jb",
                                                   "saelensConfig": json.dumps({"hook_name": "blocks.6.hook_resid_pre"})}) + "\n")
    _jsonl_gz(root / "features" / "batch-0.jsonl.gz", [_feature(0), _feature(1)])
    _jsonl_gz(root / "activations" / "batch-0.jsonl.gz", [
        _activation(0, ["<|endoftext|>", " the", " cat"], [0.0, 1.0, 9.5]),
        _activation(0, ["<|endoftext|>", " a", " kitten"], [0.0, 0.5, 11.0]),
        _activation(0, ["<|endoftext|>", " dog"], [0.0, 2.0], bin_min=1.5),
        _activation(1, ["<|endoftext|>", " x"], [0.0, 3.0]),
    ])
    _jsonl_gz(root / "explanations" / "batch-0.jsonl.gz", [_explanation(0, "cats and kittens"),
                                                           _explanation(1, "the letter x", "np_acts-logits-general",
                                                                        "claude-3-5-haiku")])
    return tmp_path / "gpt2-small"


def test_export_folder_imports_field_by_field(db, export_folder):
    [(source, counts)] = import_neuronpedia([export_folder])
    assert str(source) == "gpt2-small/6-res-jb" and source.kind == "sae" and source.status == "ready"
    assert source.hook_name == "blocks.6.hook_resid_pre" and source.n_features == 2
    assert source.model.name == "GPT-2 Small" and (source.model.n_layers, source.model.d_model) == (12, 768)
    assert source.nonnegative and source.first_shown == 1
    f0 = Feature.objects.get(source=source, index=0)
    assert f0.max_act == 12.5 and f0.density == 0.002
    assert f0.top_logits == [[" cat", 0.9], [" kitten", 0.7]] and f0.bottom_logits == [[" car", -0.5]]
    assert f0.hist_counts == [10, 4, 1] and (f0.hist_lo, f0.hist_hi) == (1.0, 9.0)
    assert f0.neighbours == [[7, 0.42]]  # itself left out
    examples = list(ActivationExample.objects.filter(feature=f0).order_by("bin", "rank"))
    assert [(e.bin, e.rank, e.tokens[-1], e.max_value, e.max_index) for e in examples] == [
        ("q0", 0, " dog", 2.0, 1), ("top", 0, " kitten", 11.0, 2), ("top", 1, " cat", 9.5, 2)]
    assert examples[1].values == [0.0, 0.5, 11.0]
    e0 = Explanation.objects.get(feature=f0)
    assert (e0.text, e0.method, e0.author, e0.status) == ("cats and kittens", "neuronpedia:oai_token-act-pair:gpt-4o-mini",
                                                         None, "live")
    assert e0.details["id"] == "e0"
    assert Explanation.objects.get(feature__index=1).method == "neuronpedia:np_acts-logits-general:claude-3-5-haiku"
    assert (counts.features, counts.examples, counts.explanations) == (2, 4, 2)


def test_importing_again_updates_without_duplicates(db, export_folder):
    import_neuronpedia([export_folder])
    human = Explanation.objects.create(feature=Feature.objects.get(index=0), text="felines")
    path = export_folder / "6-res-jb" / "explanations" / "batch-0.jsonl.gz"
    _jsonl_gz(path, [_explanation(0, "cats, kittens and tabbies")])
    import_neuronpedia([export_folder])
    assert Feature.objects.count() == 2 and ActivationExample.objects.count() == 4
    assert Source.objects.count() == 1
    texts = set(Explanation.objects.filter(feature__index=0).values_list("text", flat=True))
    assert texts == {"cats, kittens and tabbies", human.text}


def test_api_shaped_feature_with_nested_lists_and_our_names(db, tmp_path):
    record = {**_feature(3), "frac_nonzero": float("nan"), "activations": [_activation(3, ["a", "b"], [1.0, 4.0])],
              "explanations": [_explanation(3, "b after a")]}
    path = tmp_path / "feature.json"
    path.write_text(json.dumps(record))
    [(source, _)] = import_neuronpedia([path], model="gpt2", source="6-res", kind="neurons")
    assert str(source) == "gpt2/6-res" and source.kind == "neurons"
    feature = Feature.objects.get(source=source, index=3)
    assert feature.examples.get().tokens == ["a", "b"] and feature.explanations.get().text == "b after a"
    assert feature.density == 0.0 and feature.max_act == 15.5  # NaN counts as missing


@pytest.mark.parametrize(("content", "message"), [
    ('{"modelId": "m", "layer": "1-x", "index": "0"}\n{"oops"\n', r"bad\.jsonl:2: not valid JSON"),
    (json.dumps({**_activation(0, ["a", "b"], [1.0, 2.0]), "values": [1.0]}) + "\n",
     r"bad\.jsonl:1: field 'values' has 1 values for 2 tokens"),
    (json.dumps({**_feature(0), "frac_nonzero": "high"}) + "\n",
     r"bad\.jsonl:1: field 'frac_nonzero' should be a finite number, found \"high\""),
    (json.dumps({**_explanation(0, "x"), "index": "zero"}) + "\n", r"bad\.jsonl:1: field 'index' should be a whole"),
    (json.dumps({"hello": 1}) + "\n", r"bad\.jsonl:1: not a Neuronpedia feature"),
    ("[1, 2]\n", r"bad\.jsonl:1: expected a JSON object, found list"),
])
def test_bad_files_name_file_line_and_field(db, tmp_path, content, message):
    path = tmp_path / "bad.jsonl"
    path.write_text(content)
    with pytest.raises(ImportFormatError, match=message):
        import_neuronpedia([path])
    assert not Feature.objects.exists()  # a file with an error imports nothing


def test_cli_imports_and_reports_errors(db, export_folder, tmp_path, capsys):
    assert main(["import-neuronpedia", str(export_folder)]) == 0
    assert "imported gpt2-small/6-res-jb: 2 features, 4 examples, 2 explanations" in capsys.readouterr().out
    assert main(["import-neuronpedia", str(tmp_path / "missing")]) == 2
    assert "missing does not exist" in capsys.readouterr().err


def test_imported_source_shows_and_exports(db, export_folder, client, tmp_path):
    from featurepedia.web.data_io.export import build_tables, scope_for_source

    import_neuronpedia([export_folder])
    page = client.get("/gpt2-small/6-res-jb/0")
    assert page.status_code == 200 and "cats and kittens" in page.content.decode()
    rows = build_tables(scope_for_source("gpt2-small/6-res-jb"))["explanations"].to_pylist()
    assert [(r["feature_index"], r["text"], r["method"], r["author"]) for r in rows] == [
        (0, "cats and kittens", "neuronpedia:oai_token-act-pair:gpt-4o-mini", ""),
        (1, "the letter x", "neuronpedia:np_acts-logits-general:claude-3-5-haiku", "")]
