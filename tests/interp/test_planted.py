"""The planted set: enough rule-defined features of every kind, differently worded, split by a fixed rule."""

from __future__ import annotations

import hashlib

from featurepedia.interp.planted import PLANTED_FEATURES, part_of, planted_values
from featurepedia.interp.planted_rules import after_word, inside, numbers, suffix

KINDS = {"morphology", "casing", "digits", "punctuation", "code", "function-words", "topic", "position"}


def test_the_set_is_large_varied_and_worded_two_or_three_ways():
    assert len(PLANTED_FEATURES) >= 40
    assert len({f.name for f in PLANTED_FEATURES}) == len(PLANTED_FEATURES)
    assert {f.kind for f in PLANTED_FEATURES} == KINDS
    for f in PLANTED_FEATURES:
        assert 2 <= len(f.explanations) <= 3 and len(set(f.explanations)) == len(f.explanations), f.name
        assert f.explanation == f.explanations[0]


def test_parts_follow_the_documented_hash_and_both_are_used():
    for f in PLANTED_FEATURES:
        odd = hashlib.sha256(f"planted-part:{f.name}".encode()).digest()[-1] % 2
        assert f.part == part_of(f.name) == ("heldout" if odd else "dev")
    parts = [f.part for f in PLANTED_FEATURES]
    assert parts.count("dev") >= 20 and parts.count("heldout") >= 20


def test_every_feature_fires_on_real_text(word_token_lists):
    texts = word_token_lists
    for f in PLANTED_FEATURES:
        active = sum(any(v > 0 for v in planted_values(f, t)) for t in texts)
        assert active >= 5, f"{f.name} fires in only {active} texts"


def test_rules_on_fixed_tokens():
    tokens = [" the", " install", "ing", " of", " Paris", " in", " 1", "9", "9", "9", ' "', "hi", '"', " running"]
    assert suffix("ing")(tokens) == [False, False, True] + [False] * 10 + [True]
    assert after_word("of")(tokens)[4] and sum(after_word("of")(tokens)) == 1
    assert numbers(lambda d: d == "1999")(tokens)[6:10] == [True] * 4
    assert inside("“", "”", '"')(tokens)[11] and sum(inside("“", "”", '"')(tokens)) == 1


def test_values_are_zero_off_the_rule_and_graded_on_it():
    f = next(f for f in PLANTED_FEATURES if f.name == "suffix-ing")
    values = planted_values(f, [" a", " running", " dog", " singing", "<|im_end|>"])
    assert values[0] == values[2] == values[4] == 0.0 and 0.3 < values[1] <= 1.0 and 0.3 < values[3] <= 1.0
