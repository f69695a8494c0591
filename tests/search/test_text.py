"""Typed queries become FTS5 expressions that never raise and mean what PostgreSQL's websearch syntax means."""

from __future__ import annotations

import sqlite3

import pytest

from featurepedia.search.text import MAX_QUERY_CHARS, clean, fts5_query, websearch_query

DOCS = ["the cats are running", "dogs and cats", "big cat in the house", "co-operation in été", "numbers 42 and 7"]


@pytest.fixture(scope="module")
def fts() -> sqlite3.Connection:
    db = sqlite3.connect(":memory:")
    db.execute("CREATE VIRTUAL TABLE t USING fts5(x, tokenize='porter unicode61 remove_diacritics 2')")
    db.executemany("INSERT INTO t VALUES (?)", [(d,) for d in DOCS])
    return db


def match(db: sqlite3.Connection, query: str) -> set[str]:
    expression = fts5_query(query)
    if not expression:
        return set()
    return {row[0] for row in db.execute("SELECT x FROM t WHERE t MATCH ?", (expression,))}


@pytest.mark.parametrize(("query", "expected"), [
    ("cat", {"the cats are running", "dogs and cats", "big cat in the house"}),  # stemmed
    ("cats dogs", {"dogs and cats"}),  # every word must match
    ("cat -dog", {"the cats are running", "big cat in the house"}),
    ('"big cat"', {"big cat in the house"}),
    ('"cat big"', set()),  # a phrase keeps its order
    ("dog or 42", {"dogs and cats", "numbers 42 and 7"}),
    ("run*", {"the cats are running"}),
    ("co-operation", {"co-operation in été"}),
    ("ete", {"co-operation in été"}),  # accents folded
])
def test_web_search_syntax(fts, query, expected):
    assert match(fts, query) == expected


@pytest.mark.parametrize("hostile", ['"', '""', 'cat"', "AND", "NEAR(cat dog)", "x:cat", "^cat", "cat OR", "OR",
                                     "-", "--cat", "(cat", "cat)", "*", "\x00cat", "{x}: y", "'; DROP TABLE t; --"])
def test_no_query_is_an_fts5_syntax_error(fts, hostile):
    match(fts, hostile)  # raises sqlite3.OperationalError on a bad expression


def test_queries_without_words_match_nothing(fts):
    assert fts5_query("-cat") == "" and fts5_query("  ... !!! ") == "" and websearch_query("-cat") == ""
    assert match(fts, "-cat") == set()


def test_clean_drops_control_characters_and_caps_length():
    assert clean("a\x00b\n\tc  d") == "a b c d"
    assert len(clean("word " * 1000)) == MAX_QUERY_CHARS
    assert websearch_query('"big cat" -dog') == '"big cat" -dog'
