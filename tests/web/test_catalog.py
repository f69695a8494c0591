"""The catalog in the database: the sink, bundles, and the pages that show it."""

from __future__ import annotations

import pytest
from django.urls import reverse

from featurepedia.corpus import ContextSpec
from featurepedia.dashboards import ParquetSink, RunConfig, read_features, run_dashboards
from featurepedia.sources import source_for
from featurepedia.web.catalog.bundles import CatalogError, export_source, import_bundle
from featurepedia.web.catalog.models import ActivationExample, Feature, Source
from featurepedia.web.catalog.sink import DatabaseSink

pytestmark = pytest.mark.django_db

HOSTILE = '<script>alert("x")</script> <img src=x onerror=alert(1)> & "quotes"'


@pytest.fixture
def corpus(tmp_path):
    path = tmp_path / "corpus.txt"
    paragraphs = [f"Paragraph {i}: the cat sat on the mat near Paris, 42 times. {HOSTILE}" for i in range(60)]
    path.write_text("\n\n".join(paragraphs))
    return str(path)


def _build(model, corpus, tmp_path, sink, seed=0):
    config = RunConfig(model="tiny-llama", source="1-mlp", n_tokens=32 * 40, batch_size=16, top_k=4,
                       quantile_bins=3, per_bin=2, n_negative=2,
                       contexts=ContextSpec(corpus=corpus, ctx_len=32, seed=seed))
    return run_dashboards(model, source_for(model, "1-mlp"), config, sink, tmp_path / f"run{seed}", progress=False)


def test_database_sink_stores_every_feature(tiny_llama, corpus, tmp_path):
    _build(tiny_llama, corpus, tmp_path, DatabaseSink())
    source = Source.objects.get(model__slug="tiny-llama", slug="1-mlp")
    assert source.status == "ready" and source.n_features == 128 and source.n_tokens == 40 * 31
    assert source.features.count() == 128
    feature = source.features.get(index=5)
    top = feature.examples.filter(bin="top").order_by("rank")
    assert top.count() == 4
    assert top[0].max_value == max(e.max_value for e in top)
    assert source.config["config"]["contexts"]["ctx_len"] == 32
    assert source.nonnegative is False and source.active_fraction == 0.1  # neurons: signed, as the run says
    assert (source.model.n_layers, source.model.d_model) == (tiny_llama.n_layers, tiny_llama.d_model)


def test_rebuild_keeps_feature_rows_and_replaces_examples(tiny_llama, corpus, tmp_path):
    _build(tiny_llama, corpus, tmp_path, DatabaseSink())
    ids = dict(Feature.objects.values_list("index", "id"))
    first = set(ActivationExample.objects.values_list("id", flat=True))
    _build(tiny_llama, corpus, tmp_path, DatabaseSink(), seed=1)
    assert dict(Feature.objects.values_list("index", "id")) == ids
    assert first.isdisjoint(ActivationExample.objects.values_list("id", flat=True))
    for feature in Feature.objects.all():
        ranks = list(feature.examples.filter(bin="top").values_list("rank", flat=True))
        assert sorted(ranks) == list(range(4))  # replaced, not added to


def test_export_import_round_trip(tiny_llama, corpus, tmp_path):
    _build(tiny_llama, corpus, tmp_path, DatabaseSink())
    export_source("tiny-llama", "1-mlp", tmp_path / "bundle")
    exported = [f for chunk in read_features(tmp_path / "bundle") for f in chunk]
    Source.objects.all().delete()
    import_bundle(tmp_path / "bundle")
    export_source("tiny-llama", "1-mlp", tmp_path / "again")
    again = [f for chunk in read_features(tmp_path / "again") for f in chunk]
    assert len(exported) == 128
    assert [f.to_dict() for f in exported] == [f.to_dict() for f in again]
    with pytest.raises(CatalogError, match="stored: tiny-llama/1-mlp"):
        export_source("tiny-llama", "9-mlp", tmp_path / "x")


def test_parquet_build_imports_like_a_database_build(tiny_llama, corpus, tmp_path):
    _build(tiny_llama, corpus, tmp_path, ParquetSink(tmp_path / "b"))
    run = import_bundle(tmp_path / "b")
    assert run.source["n_features"] == 128
    assert Feature.objects.filter(source__slug="1-mlp").count() == 128


def test_pages_show_real_data_and_escape_corpus_text(client, tiny_llama, corpus, tmp_path):
    _build(tiny_llama, corpus, tmp_path, DatabaseSink())
    home = client.get("/")
    assert home.status_code == 200 and b"tiny-llama / 1-mlp" in home.content
    model = client.get(reverse("model", args=["tiny-llama"])).content.decode()
    assert f"{tiny_llama.n_layers} layers, residual width {tiny_llama.d_model}" in model
    page = client.get(reverse("source", args=["tiny-llama", "1-mlp"]))
    assert page.status_code == 200 and b"#49" in page.content
    feature = client.get(reverse("feature", args=["tiny-llama", "1-mlp", 5]))
    html = feature.content.decode()
    assert feature.status_code == 200
    example = Feature.objects.get(source__slug="1-mlp", index=5).examples.filter(bin="top").first()
    assert "Top activations" in html and "<svg" in html and 'rel="next"' in html
    assert "&lt;|bos|&gt;" not in html  # the BOS position is never shown
    assert any(tok.strip() and tok.strip() in html for tok in example.tokens if "<" not in tok and "&" not in tok)
    assert "<script>alert" not in html and "&lt;script&gt;" in html.replace("&amp;lt;", "&lt;") or \
        "script" not in "".join(example.tokens)
    assert "<img src=x" not in html
    assert client.get(reverse("feature", args=["tiny-llama", "1-mlp", 999])).status_code == 404
    jump = client.get(reverse("source", args=["tiny-llama", "1-mlp"]), {"index": "17"})
    assert jump.status_code == 302 and jump["Location"].endswith("/tiny-llama/1-mlp/17")
    bad = client.get(reverse("source", args=["tiny-llama", "1-mlp"]), {"index": "abc"})
    assert bad.status_code == 400 and b"0 to 127" in bad.content
    rnd = client.get(reverse("random-feature", args=["tiny-llama", "1-mlp"]))
    assert rnd.status_code == 302
    slashed = client.get("/tiny-llama/1-mlp/5/", {"embed": "1"})  # a typed trailing slash finds the page
    assert slashed.status_code == 301 and slashed["Location"] == "/tiny-llama/1-mlp/5?embed=1"
    assert client.get("/tiny-llama/1-mlp/random/").status_code == 302


def test_document_separators_are_stored_and_shown_as_special_tokens(client, tiny_llama, corpus, tmp_path):
    _build(tiny_llama, corpus, tmp_path, DatabaseSink())
    eos = tiny_llama.tokenizer.eos_token
    example = next(e for e in ActivationExample.objects.select_related("feature") if eos in e.tokens[1:])
    position = example.tokens.index(eos, 1)
    assert position in example.special  # stored as a flag, not only in the note's words
    assert example.notes[str(position)].startswith("special token, not text: end of text")
    page = client.get(reverse("feature", args=["tiny-llama", "1-mlp", example.feature.index]),
                      {"groups": "all"}).content.decode()
    assert 'class="special"' in page and "&lt;|endoftext|&gt;" in page


def test_special_tokens_survive_a_bundle_round_trip(tiny_llama, corpus, tmp_path):
    _build(tiny_llama, corpus, tmp_path, ParquetSink(tmp_path / "b"))
    eos = tiny_llama.tokenizer.eos_token_id
    built = [e for chunk in read_features(tmp_path / "b") for f in chunk for e in f.examples]
    with_eos = [e for e in built if eos in e.token_ids[1:]]
    assert with_eos and all(e.special == [i for i, t in enumerate(e.token_ids) if t in (eos, e.token_ids[0])]
                            for e in with_eos)  # BOS and every end-of-text token, nothing else
    import_bundle(tmp_path / "b")
    stored = ActivationExample.objects.filter(feature__source__slug="1-mlp")
    assert {(tuple(e.token_ids), tuple(e.special)) for e in stored} == \
        {(tuple(e.token_ids), tuple(e.special)) for e in built}
    export_source("tiny-llama", "1-mlp", tmp_path / "again")
    again = [e for chunk in read_features(tmp_path / "again") for f in chunk for e in f.examples]
    assert {(tuple(e.token_ids), tuple(e.special)) for e in again} == \
        {(tuple(e.token_ids), tuple(e.special)) for e in built}


def test_pages_mark_special_tokens_by_the_stored_flag_not_the_notes_words():
    from featurepedia.web.catalog.display import render_tokens

    html = render_tokens(["a", "<|endoftext|>", "b"], [0.0, 0.0, 0.0],
                         {"0": "special token, not text (a note that only reads like one)"}, 1.0, special={1})
    assert html.count('class="special"') == 1 and 'class="partial"' in html
    assert html.index('class="special"') > html.index("a note that only")  # the flagged token, not "a"


def test_tokens_are_shaded_by_classes_with_the_exact_value_in_the_title():
    from featurepedia.web.catalog.display import render_tokens

    html = render_tokens(["a", " b", "<c>", "d"], [0.0, 0.5, 1.7, 0.123456], {}, 1.0)
    assert "style=" not in html  # the content security policy forbids inline styles
    assert html == ('<span title="0">a</span><span class="a10" title="0.5"> b</span>'
                    '<span class="a20" title="1.7">&lt;c&gt;</span><span class="a2" title="0.1235">d</span>')


def test_a_bundle_of_another_format_is_refused(tmp_path):
    import json

    from featurepedia.dashboards.parquet import BundleError, read_run

    (tmp_path / "run.json").write_text(json.dumps({"format": 2, "model_id": "m", "model_info": {}, "source": {},
                                                   "config": {}}))
    with pytest.raises(BundleError, match="format 2; this version reads format 3"):
        read_run(tmp_path)


def test_the_catalog_imports_no_app_built_on_it():
    """The base app knows nothing above it: the game and explanations add to its pages through extensions."""
    import ast
    from pathlib import Path

    import featurepedia.web.catalog as catalog

    above = ("featurepedia.web.game", "featurepedia.web.explanations")
    for path in Path(catalog.__file__).parent.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                [node.module or ""] if isinstance(node, ast.ImportFrom) else []
            assert not [n for n in names if n.startswith(above)], f"{path} imports {names}"


def test_catalog_extensions_refuse_a_name_twice_and_an_unknown_slot():
    from featurepedia.web.catalog.extensions import Panel, panels, register_panel, register_text_filter

    existing = panels("feature")[0]
    with pytest.raises(ValueError, match="already registered"):
        register_panel("feature", existing)
    with pytest.raises(ValueError, match="slots: home, feature"):
        register_panel("sidebar", Panel("x.y", "x.html", lambda request, page: {}))
    with pytest.raises(ValueError, match="already registered"):
        register_text_filter("game.explicit", lambda request: None)
    assert [p.name for p in panels("feature")] == ["game.campaigns", "game.judgements", "explanations.section",
                                                  "game.predict", "live.test-text", "community.feature", "game.embed"]
