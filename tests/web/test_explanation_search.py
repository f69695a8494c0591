"""Explanation search on the database in use (SQLite here, PostgreSQL in `make test`): by words, by meaning
with the real bundled MiniLM, kept current as explanations are written, filtered and paged."""

from __future__ import annotations

import pytest
from django.utils import timezone

from featurepedia.errors import UsageError
from featurepedia.web.catalog.models import LanguageModel, Source
from featurepedia.web.explanations import search_index
from featurepedia.web.explanations.models import Explanation
from featurepedia.web.explanations.search import explanation_model_name, search_explanations
from tests.web.conftest import make_feature

TEXTS = {
    "cats": "mentions of cats and kittens",
    "numbers": "numbers and years written as digits",
    "cities": "names of European capital cities",
}


@pytest.fixture
def index_dir(data_dir, monkeypatch):
    """A fresh data dir, no index loaded in this process, and every sync check due at once."""
    monkeypatch.setattr(search_index, "SYNC_INTERVAL", 0.0)
    search_index.forget_index()
    yield data_dir / "search"
    search_index.forget_index()


@pytest.fixture
def explained(world, make_user, index_dir):
    """The world's three features explained, plus a cat explanation on another model's source."""
    alice = make_user("alice")
    out = {}
    for feature, key in zip(world["features"], TEXTS, strict=True):
        out[key] = Explanation.objects.create(feature=feature, text=TEXTS[key], author=alice)
    other = LanguageModel.objects.create(slug="other", name="Other")
    source = Source.objects.create(model=other, slug="2-res", kind="neurons", hook_name="blocks.2.hook_resid_post",
                                   n_features=1, status="ready", config=world["source"].config)
    out["other_cat"] = Explanation.objects.create(feature=make_feature(source, 0, ["cat"] * 4),
                                                  text="a cat sitting on a mat", method="llm:gpt-4o-mini")
    return out


def ids(results) -> list[int]:
    return [hit.id for hit in results.results]


def test_text_search_finds_words_with_stemming(explained):
    found = search_explanations("cat", mode="text")
    assert set(ids(found)) == {explained["cats"].pk, explained["other_cat"].pk}  # "cats" stems to "cat"
    assert found.results_count == 2 and not found.has_more
    assert ids(search_explanations("digit year", mode="text")) == [explained["numbers"].pk]
    assert ids(search_explanations("capital -european", mode="text")) == []
    assert search_explanations("   ", mode="text").results == []


def test_text_search_ranks_the_closer_match_first(explained, world):
    close = Explanation.objects.create(feature=world["features"][0], text="cats cats cats", method="token-list")
    assert ids(search_explanations("cats", mode="text"))[0] == close.pk


def test_hostile_queries_do_not_break_text_search(explained):
    for query in ['"', "cat AND", "NEAR(", "x:y", "'; drop table", "\x00", "-cat", "cat" * 300]:
        search_explanations(query, mode="text")


def test_filters_by_model_and_source(explained):
    assert ids(search_explanations("cat", model="tiny", mode="text")) == [explained["cats"].pk]
    assert ids(search_explanations("cat", model="other", sources=["2-res"], mode="text")) == [explained["other_cat"].pk]
    assert ids(search_explanations("cat", sources=["1-mlp"], mode="text")) == [explained["cats"].pk]
    assert ids(search_explanations("cat", model="tiny", sources=["2-res"], mode="text")) == []
    assert ids(search_explanations("cat", model="nope", mode="semantic")) == []


def test_paging_with_total(explained):
    first = search_explanations("cat", mode="text", limit=1)
    second = search_explanations("cat", mode="text", offset=first.next_offset, limit=1)
    assert first.results_count == second.results_count == 2
    assert first.has_more and first.next_offset == 1 and not second.has_more
    assert set(ids(first) + ids(second)) == {explained["cats"].pk, explained["other_cat"].pk}
    assert search_explanations("cat", mode="text", offset=5).results == []


def test_only_live_explanations_of_players_in_good_standing(explained, world, make_user):
    bob = make_user("bob")
    Explanation.objects.create(feature=world["features"][0], text="a draft about cats", author=bob,
                               status=Explanation.Status.DRAFT)
    Explanation.objects.create(feature=world["features"][0], text="hidden words about cats", method="x",
                               status=Explanation.Status.HIDDEN)
    banned = make_user("mallory", banned=True)
    Explanation.objects.create(feature=world["features"][1], text="cats by a banned player", author=banned)
    assert set(ids(search_explanations("cats", mode="text"))) == {explained["cats"].pk, explained["other_cat"].pk}
    assert explained["cats"].pk in ids(search_explanations("cats", mode="semantic"))
    assert not {"draft", "hidden", "banned"} & {w for h in search_explanations("cats", limit=10).results
                                                for w in h.description.split()}


def test_text_index_follows_edits_and_deletes(explained):
    cats = explained["cats"]
    cats.text = "small felines"
    cats.save()
    assert cats.pk not in ids(search_explanations("kittens", mode="text"))
    assert ids(search_explanations("feline", mode="text")) == [cats.pk]
    Explanation.objects.filter(pk=cats.pk).update(text="tabby kittens")  # no signal, no save(): still found
    assert ids(search_explanations("tabby", mode="text")) == [cats.pk]
    cats.delete()
    assert search_explanations("tabby", mode="text").results == []


def test_semantic_search_finds_a_paraphrase(explained):
    assert ids(search_explanations("felines such as kittens", model="tiny"))[0] == explained["cats"].pk
    assert ids(search_explanations("dates like 1999"))[0] == explained["numbers"].pk
    assert ids(search_explanations("Paris, Rome and Berlin"))[0] == explained["cities"].pk
    hit = search_explanations("a kitten", model="other").results[0]
    assert hit.id == explained["other_cat"].pk and 0.3 < hit.cosine_similarity <= 1.0


def test_semantic_paging_and_hybrid(explained):
    first = search_explanations("animals", limit=2)
    rest = search_explanations("animals", offset=2, limit=2)
    assert first.has_more and first.next_offset == 2 and not rest.has_more
    assert len(set(ids(first) + ids(rest))) == 4
    sims = [h.cosine_similarity for h in first.results + rest.results]
    assert sims == sorted(sims, reverse=True)
    hybrid = search_explanations("kittens", mode="hybrid")
    assert ids(hybrid)[0] == explained["cats"].pk and hybrid.results_count >= 1


def test_the_index_is_a_file_in_the_data_dir_built_from_the_database(explained, index_dir):
    search_explanations("cats")
    assert (index_dir / "explanations.usearch").is_file() and (index_dir / "explanations.json").is_file()
    assert len(search_index.loaded_index().vectors) == 4
    search_index.forget_index()
    explained["cities"].delete()  # while no index is loaded: the next start finds it gone
    assert explained["cities"].pk not in ids(search_explanations("capital cities"))
    assert len(search_index.loaded_index().vectors) == 3
    assert search_index.rebuild_index() == 3


def test_index_follows_writes_in_this_process(explained, world, django_capture_on_commit_callbacks):
    search_explanations("warm up")  # loads the index, so writes now update it
    with django_capture_on_commit_callbacks(execute=True):
        river = Explanation.objects.create(feature=world["features"][2], text="rivers, lakes and the sea",
                                           method="token-list")
    index = search_index.loaded_index()
    assert river.pk in index.vectors
    with django_capture_on_commit_callbacks(execute=True):
        river.text = "tax forms and accounting"
        river.save()
    assert ids(search_explanations("bookkeeping and taxes"))[0] == river.pk
    with django_capture_on_commit_callbacks(execute=True):
        river.delete()
    assert river.pk not in index.vectors


def test_index_catches_up_with_writes_that_send_no_signal(explained, world, monkeypatch):
    search_explanations("warm up")
    index = search_index.loaded_index()
    monkeypatch.setattr(search_index, "explanation_changed", lambda pk: None)  # as if another process wrote
    [sea] = Explanation.objects.bulk_create([Explanation(feature=world["features"][2], text="oceans and seas",
                                                         normalised="oceans and seas", method="bulk")])
    sea = Explanation.objects.get(method="bulk")
    assert ids(search_explanations("the ocean"))[0] == sea.pk
    Explanation.objects.filter(pk=sea.pk).update(status=Explanation.Status.HIDDEN, updated=timezone.now())
    search_explanations("the ocean")
    assert sea.pk not in index.vectors
    Explanation.objects.filter(pk=explained["numbers"].pk).delete()  # a delete leaves no row to fetch
    search_explanations("numbers")
    assert explained["numbers"].pk not in index.vectors and len(index.vectors) == 3


def test_bulk_writes_update_the_index_once_at_the_end(explained, world, monkeypatch,
                                                      django_capture_on_commit_callbacks):
    search_explanations("warm up")
    calls: list[list[int]] = []
    index = search_index.loaded_index()
    real_apply = index.apply
    monkeypatch.setattr(index, "apply", lambda pks: (calls.append(list(pks)), real_apply(pks)))
    with django_capture_on_commit_callbacks(execute=True), search_index.deferred_updates():
        made = [Explanation.objects.create(feature=world["features"][1], text=f"explanation number {i}",
                                           method=f"m{i}") for i in range(3)]
        assert calls == []
    assert calls == [[e.pk for e in made]]
    assert all(e.pk in index.vectors for e in made)


def test_bad_requests_say_what_to_fix(explained):
    with pytest.raises(UsageError, match="mode 'fuzzy' is unknown"):
        search_explanations("cat", mode="fuzzy")
    with pytest.raises(UsageError, match="1 to 100"):
        search_explanations("cat", limit=0)
    with pytest.raises(UsageError, match="offset is -1"):
        search_explanations("cat", offset=-1)


def test_items_carry_neuronpedia_fields(explained):
    hit = search_explanations("cat", model="other", mode="text").results[0]
    fields = hit.neuronpedia()
    assert fields["modelId"] == "other" and fields["layer"] == fields["source"] == "2-res"
    assert fields["index"] == "0" and fields["description"] == "a cat sitting on a mat"
    assert fields["typeName"] == "llm:gpt-4o-mini" and fields["explanationModelName"] == "gpt-4o-mini"
    assert explanation_model_name("human", {}, "alice") == "alice"
    assert explanation_model_name("local-lm", {"model": "smollm2"}, None) == "smollm2"
    assert explanation_model_name("token-list", {}, None) == "token-list"


def test_migrate_restores_sqlite_triggers_lost_in_a_table_rebuild(explained):
    from django.db import connection

    from featurepedia.web.explanations import fulltext

    if connection.vendor != "sqlite":
        pytest.skip("the FTS5 triggers exist only on SQLite")
    with connection.cursor() as cursor:  # what Django's SQLite table rebuild does to them
        cursor.execute(f"DROP TRIGGER {fulltext.FTS_TABLE}_update")
    Explanation.objects.filter(pk=explained["cats"].pk).update(text="tabby kittens")
    fulltext.ensure_installed()  # run after every migrate
    assert ids(search_explanations("tabby", mode="text")) == [explained["cats"].pk]
    assert ids(search_explanations("mentions", mode="text")) == []
