"""Pattern explainer: names the pattern with examples, checked on held-back examples, or says there is none."""

from __future__ import annotations

import re

import pytest

from featurepedia.interp import ActivationRecord, get_explainer


def _records(texts: list[tuple[str, set[str]]]) -> list[ActivationRecord]:
    out = []
    for text, active in texts:
        tokens = [" " + w for w in text.split()]
        out.append(ActivationRecord(tokens, [1.0 if t.strip() in active else 0.0 for t in tokens]))
    return out


@pytest.fixture(scope="module")
def explainer():
    return get_explainer("pattern")


def test_a_suffix(explainer):
    records = _records([("she was running home", {"running"}), ("they kept singing loudly", {"singing"}),
                        ("a morning walk", {"morning"}), ("after testing it", {"testing"}),
                        ("we are making tea", {"making"}), ("the reading room", {"reading"})])
    text = explainer.explain(records)
    assert text.startswith("words ending in -ing, such as ") and explainer.last_details["candidates"]


def test_the_word_after(explainer):
    records = _records([("the top of the hill", {"the"}), ("a cup of tea now", {"tea"}),
                        ("most of them left", {"them"}), ("one of my friends", {"my"}),
                        ("the end of days", {"days"}), ("full of water here", {"water"})])
    assert explainer.explain(records).startswith('the word after "of"')


def test_a_closed_class(explainer):
    records = _records([("you could go", {"could"}), ("we would stay", {"would"}), ("it might rain", {"might"}),
                        ("he should sit", {"should"}), ("I can swim", {"can"}), ("they must leave", {"must"})])
    assert explainer.explain(records).startswith("modal verbs, such as")


def test_no_clear_pattern(explainer):
    records = _records([("the cat sat on the mat", {"sat", "the"}), ("prices rose in May", {"in"}),
                        ("he wrote code all day", {"all", "code"}), ("a quiet evening", {"a"})])
    text = explainer.explain(records)
    assert text.startswith("no clear pattern") or explainer.last_details["candidates"][0][1] >= 0.75
    assert explainer.explain(_records([("nothing fires here", set())])).startswith("no clear pattern")


def test_examples_are_whole_words_as_written(explainer):
    """A token that is a piece of a word is shown as the word, in its case; a word the example's edge may
    cut off ("Missou" at the end) is not shown when whole ones are there."""
    def rec(tokens: list[str], active: set[int]) -> ActivationRecord:
        return ActivationRecord(tokens, [1.0 if i in active else 0.0 for i in range(len(tokens))])

    records = [rec([" in", " Miss", "ouri", " today"], {2}), rec([" from", " Miss", "ouri", " now"], {2}),
               rec([" the", " Ath", "ab", "asca", " river"], {3}), rec([" near", " Ath", "ab", "asca", " lake"], {3}),
               rec([" see", " Miss", "ou"], {2}), rec([" see", " Miss", "ou"], {2}), rec([" see", " Miss", "ou"], {2})]
    text = explainer.explain(records)
    words = explainer.last_details["candidates"]
    shown = " ".join([text, *(c for c, _ in words)])
    assert "Missouri" in shown and "Athabasca" in shown, shown
    assert not re.search(r"Missou\b|\bouri|\basca|\bab\b", shown), shown
    assert "missouri" not in shown  # written as it is written, not lower-cased
