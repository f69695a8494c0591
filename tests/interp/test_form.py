"""Form-and-meaning scorer: what it reads in an explanation, and how it ranks explanations on fixed texts."""

from __future__ import annotations

import time

import pytest

from featurepedia.interp import ActivationRecord, InvalidExplanation, RecordError, get_scorer
from featurepedia.interp.forms.rules import parse
from featurepedia.interp.forms.tokens import token_infos
from featurepedia.interp.scorers import form


@pytest.mark.parametrize(("explanation", "labels", "literals"), [
    ("words ending in -ing", ["ends in -ing"], []),
    ('tokens with the suffix "ness", like kindness', ["ends in -ness"], ["kindness"]),
    ("nouns ending in tion/sion", ["ends in -tion", "ends in -sion"], []),
    ("words with the prefix un-", ["starts with un-"], []),
    ("colons and semicolons", ["the symbol ;", "the symbol :"], []),
    ("WORDS IN CAPITAL LETTERS", ["all capitals"], []),
    ("capitalised words that are not at the start of a sentence", ["capitalised", "not at a sentence start"], []),
    ("digits that are not years", ["digits", "not years"], []),
    ("numbers written as words", ["number words"], []),
    ('the word after "of"', ["after 'of'"], []),
    ("the word just before a comma", ["before the symbol ,"], []),
    ("text inside parentheses", ["inside brackets"], []),
    ("modal verbs such as could and would", ["modal verbs"], ["could", "would"]),
    ("file paths and URLs", ["paths and URLs", "paths and URLs"], []),
    ("animals, such as dog or horse", [], ["dog", "horse"]),
])
def test_parse(explanation, labels, literals):
    reading = parse(explanation)
    assert sorted(reading.labels) == sorted(labels)
    assert reading.literals == literals


def test_token_infos_see_words_quotes_and_sentences():
    tokens = ["He", " said", ' "', "hi", '".', " The", " install", "ing", " of", " /usr", "/bin"]
    infos = token_infos(tokens)
    assert infos[3].in_quotes and not infos[1].in_quotes
    assert infos[5].sentence_start == 1.0 and infos[1].sentence_start == 0.0
    assert infos[6].word == infos[7].word == "installing" and infos[7].last_piece and not infos[6].last_piece
    assert infos[9].chunk == infos[10].chunk == "/usr/bin"
    assert infos[8].prev == "installing"[-3:] or infos[8].prev == "ing"


def _records(texts: list[tuple[list[str], set[int]]]) -> list[ActivationRecord]:
    return [ActivationRecord(tokens, [1.0 if i in active else 0.0 for i in range(len(tokens))])
            for tokens, active in texts]


ING = _records([
    ([" She", " was", " running", " and", " singing", "."], {2, 4}),
    ([" Testing", " the", " code", " took", " ages"], {0}),
    ([" We", " kept", " walking", " home"], {2}),
    ([" a", " following", " wind", " and", " a", " morning", " mist"], {1, 5}),
    ([" They", " could", " go", " and", " would", " stay", "."], set()),
    ([" It", " may", " rain", " but", " we", " must", " leave", "."], set()),
    ([" He", " should", " sit", " down", "."], set()),
])
COLONS = _records([
    ([" Note", ":", " this", " is", " old", ";", " ignore", " it"], {1, 5}),
    ([" Ingredients", ":", " eggs", ";", " milk"], {1, 3}),
    ([" It", " is", " not", " here", " and", " never", " was", "."], set()),
    ([" No", " one", " came", ",", " nobody", " cared", "."], set()),
])
CAPS = _records([
    ([" Use", " the", " GNU", " tools", " over", " TCP", "."], {2, 5}),
    ([" The", " DNS", " and", " APT", " settings"], {1, 3}),
    ([" The", " network", " router", " sends", " packets", " to", " the", " server", "."], set()),
    ([" Internet", " protocols", " carry", " data", " between", " computers", "."], set()),
])


@pytest.fixture(scope="module")
def scorer():
    return get_scorer("form")


@pytest.mark.parametrize(("records", "right", "wrong"), [
    (ING, "words ending in -ing", "modal verbs"),
    (COLONS, "colons and semicolons", "negation words"),
    (CAPS, "words in capital letters", "computer networking"),
])
def test_form_beats_the_wrong_meaning(scorer, records, right, wrong):
    """The three failures of the embedding scorer the form scorer exists to fix."""
    good, bad = scorer.score(right, records).value, scorer.score(wrong, records).value
    assert good > 0.9 and good > bad + 0.2, (good, bad)


def test_naming_the_pattern_beats_pasting_tokens(scorer):
    # scored on held-out texts whose -ing words are not the pasted ones
    held_out = _records([([" He", " was", " reading", " and", " writing", "."], {2, 4}),
                         ([" Boiling", " water", " is", " hot"], {0}),
                         *[(r.tokens, set()) for r in ING[4:]]])
    rule = scorer.score("words ending in -ing", held_out).value
    pasted = scorer.score('"following", "using", "testing"', held_out).value
    assert rule == 1.0 and rule > pasted


def test_details(scorer):
    result = scorer.score("words ending in -ing", ING)
    d = result.details
    assert d["scorer"] == "form" and d["version"] == scorer.version and d["understood"] == ["ends in -ing"]
    assert len(d["predictions"]) == len(ING) and [len(p) for p in d["token_predictions"]] == [len(r.tokens) for r in ING]
    assert d["labels"] == [1, 1, 1, 1, 0, 0, 0] and d["n_active_tokens"] == 6


def test_deterministic_and_cached(scorer):
    first = scorer.score("words ending in -ing", ING).value
    keys = len(form._CACHE)
    start = time.perf_counter()
    assert scorer.score("words ending in -ing", ING).value == first
    scorer.score("gerunds", ING)
    assert len(form._CACHE) == keys and time.perf_counter() - start < 5.0  # generous: shared machine


def test_topics_use_meaning(scorer):
    records = _records([
        ([" the", " dog", " barked", " at", " the", " cat"], {1, 5}),
        ([" a", " horse", " and", " a", " cow"], {1, 4}),
        ([" the", " price", " of", " bread", " rose"], set()),
        ([" she", " wrote", " a", " long", " letter"], set()),
    ])
    assert scorer.score("animals", records).value > scorer.score("prices and money", records).value + 0.2


def test_bad_input(scorer):
    with pytest.raises(InvalidExplanation, match="empty"):
        scorer.score(" ", ING)
    # Only activating texts is fine (their quiet tokens are the other side); all tokens active is not.
    assert scorer.score("words ending in -ing", ING[:2]).value > 0.5
    every = [ActivationRecord(tokens=r.tokens, values=[1.0] * len(r.tokens)) for r in ING[:2]]
    with pytest.raises(RecordError, match="quiet ones"):
        scorer.score("words ending in -ing", every)
    assert 0.0 <= scorer.score("?", ING).value <= 1.0
