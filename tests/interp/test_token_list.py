"""Token-list explainer on planted features and edge cases."""

from __future__ import annotations

from featurepedia.interp import ActivationRecord, get_explainer


def test_lists_top_tokens(planted_splits):
    text = get_explainer("token-list").explain(planted_splits["colours"].explain)
    assert any(c in text.lower() for c in ("red", "white", "black", "green", "blue")), text
    assert len(text) < 120


def test_number_shape_and_context():
    records = [ActivationRecord([" in", " 1", " and", " in", " 7"], [0, 1.0, 0, 0, 0.9]),
               ActivationRecord([" in", " 3", "."], [0, 0.8, 0])]
    text = get_explainer("token-list").explain(records)
    assert text.startswith("numbers such as") and '(often after "in")' in text


def test_no_activations():
    text = get_explainer("token-list").explain([ActivationRecord([" a"], [0.0])])
    assert text == "no clear pattern (the feature rarely fires)"
