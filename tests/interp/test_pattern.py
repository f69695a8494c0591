"""Pattern explainer: names the pattern with examples, checked on held-back examples, or says there is none."""

from __future__ import annotations

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
