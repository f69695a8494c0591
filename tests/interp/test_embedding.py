"""Embedding scorer: planted features, edge cases, caching."""

from __future__ import annotations

import time

import pytest

from featurepedia.interp import InvalidExplanation, RecordError, get_scorer
from featurepedia.interp.planted import PLANTED_FEATURES
from featurepedia.interp.scorers import embedding

# Features whose true explanation the embedding scorer reliably ranks first (bench/autointerp.py measures
# all of them; syntactic ones such as "the word after 'of'" are beyond a sentence-embedding model).
CLAIMED = ["numbers", "years", "animals", "colours", "family", "negation", "first-person"]
# Against the explanations of the first planted set (12 features): the larger set holds near-synonyms
# ("numerals", "single-digit numbers") that a sentence-embedding model cannot tell apart.
FIRST_SET = {"numbers", "years", "capitalised", "animals", "colours", "quotes", "after-of", "questions", "plurals",
             "family", "negation", "first-person"}


@pytest.fixture(scope="module")
def scorer():
    return get_scorer("embedding")


@pytest.mark.slow  # an acceptance test on the real sentence-embedding model (~100 s on 2 cores)
@pytest.mark.parametrize("name", CLAIMED)
def test_true_explanation_wins(scorer, planted_splits, name):
    records = planted_splits[name].score
    scores = {f.name: scorer.score(f.explanation, records).value for f in PLANTED_FEATURES if f.name in FIRST_SET}
    assert max(scores, key=scores.__getitem__) == name, scores
    assert scores[name] > 0.8


def test_details(scorer, small_records):
    result = scorer.score("animals such as cats and dogs", small_records)
    d = result.details
    assert d["scorer"] == "embedding" and d["version"] == scorer.version
    assert len(d["predictions"]) == len(small_records) and d["labels"] == [1, 1, 0, 0]
    assert 0.0 <= result.value <= 1.0 and result.value > 0.5


def test_new_explanation_reuses_cached_examples(scorer, planted_splits):
    records = planted_splits["colours"].score
    scorer.score("warm", records)
    keys = len(embedding._EXAMPLE_CACHE)
    start = time.perf_counter()
    scorer.score("colour words", records)
    assert len(embedding._EXAMPLE_CACHE) == keys  # nothing new was embedded
    assert time.perf_counter() - start < 1.0


def test_edge_case_explanations(scorer, small_records):
    assert 0.0 <= scorer.score("s", small_records).value <= 1.0
    with pytest.raises(InvalidExplanation, match="empty"):
        scorer.score("", small_records)
    with pytest.raises(InvalidExplanation, match="10,000 characters; the limit is 500"):
        scorer.score("a" * 10_000, small_records)


def test_needs_both_kinds_of_record(scorer, small_records):
    with pytest.raises(RecordError, match="2 activating and 0 non-activating"):
        scorer.score("animals", small_records[:2])


@pytest.mark.parametrize("view", ["context", "window", "highlight"])
def test_views_run(view, small_records):
    result = get_scorer("embedding", view=view).score("animals", small_records)
    assert 0.0 <= result.value <= 1.0 and result.details["view"] == view


def test_unknown_view():
    with pytest.raises(ValueError, match="unknown view"):
        get_scorer("embedding", view="nope")
