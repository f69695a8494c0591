"""Neuronpedia's explanation-search routes: the three scopes, both field spellings, paging, errors."""

from __future__ import annotations

import pytest

from tests.web.test_api_errors import assert_error_shape
from tests.web.test_explanation_search import explained, index_dir  # noqa: F401  (fixtures)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fresh_cache")]


def post(client, route, body):
    return client.post(f"/api/explanation/{route}", body, content_type="application/json")


def test_search_all_finds_by_meaning_and_by_words(client, explained):  # noqa: F811
    found = post(client, "search-all", {"query": "kittens"}).json()
    first = found["results"][0]
    assert first["description"] in ("mentions of cats and kittens", "a cat sitting on a mat")
    assert {"modelId", "layer", "source", "index", "description", "typeName", "explanationModelName",
            "cosine_similarity"} <= set(first)
    assert first["layer"] == first["source"] and first["cosine_similarity"] > 0.3
    by_words = post(client, "search-all/", {"query": "capital", "mode": "text"}).json()
    assert [r["description"] for r in by_words["results"]] == ["names of European capital cities"]
    assert by_words["resultsCount"] == 1 and by_words["hasMore"] is False


def test_scopes_model_and_layers(client, explained):  # noqa: F811
    model = post(client, "search-model", {"modelId": "tiny", "query": "cat"}).json()
    assert {r["modelId"] for r in model["results"]} == {"tiny"}
    layers = post(client, "search", {"modelId": "other", "layers": ["2-res"], "query": "cat"}).json()
    assert [r["description"] for r in layers["results"]] == ["a cat sitting on a mat"]


def test_paging(client, explained):  # noqa: F811
    first = post(client, "search-all", {"query": "things", "limit": 2}).json()
    assert len(first["results"]) == 2 and first["hasMore"] and first["nextOffset"] == 2
    rest = post(client, "search-all", {"query": "things", "limit": 2, "offset": first["nextOffset"]}).json()
    seen = {r["id"] for r in first["results"]}
    assert rest["results"] and not seen & {r["id"] for r in rest["results"]}


def test_errors_in_the_one_shape(client, explained):  # noqa: F811
    assert "nope" in assert_error_shape(post(client, "search-model", {"modelId": "nope", "query": "x"}), 404)["error"]
    assert_error_shape(post(client, "search", {"modelId": "tiny", "layers": ["9-x"], "query": "x"}), 404)
    assert_error_shape(post(client, "search-all", {"query": "x", "limit": 10_000}), 400)
    assert_error_shape(post(client, "search-all", {"query": "x", "mode": "psychic"}), 400)
    assert_error_shape(post(client, "search-all", {"query": "a\x00b"}), 400)
