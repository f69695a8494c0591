"""Records, explanation limits, metrics edge cases and the held-out split."""

from __future__ import annotations

import math

import numpy as np
import pytest

from featurepedia.interp import (
    MAX_EXPLANATION_CHARS,
    ActivationRecord,
    InvalidExplanation,
    RecordError,
    held_out_split,
    validate_explanation,
)
from featurepedia.interp.metrics import auroc, balanced_accuracy, pearson_or_zero


def test_record_lengths_must_match():
    with pytest.raises(RecordError, match="2 tokens but 1 values"):
        ActivationRecord(["a", "b"], [1.0])


def test_record_values_must_be_finite():
    with pytest.raises(RecordError, match="NaN"):
        ActivationRecord(["a"], [math.nan])


def test_record_properties():
    r = ActivationRecord([" a", " b", " c"], [0.1, 0.9, 0.9])
    assert r.is_activating and r.argmax == 1 and r.text == " a b c"
    assert not ActivationRecord(["x"], [-0.3]).is_activating  # negatives do not count as firing
    assert ActivationRecord.from_dict(r.to_dict()) == r


@pytest.mark.parametrize("text", ["", "   ", "\n"])
def test_empty_explanation_is_refused(text):
    with pytest.raises(InvalidExplanation, match="empty"):
        validate_explanation(text)


def test_long_explanation_says_length_and_limit():
    with pytest.raises(InvalidExplanation) as err:
        validate_explanation("x" * 10_000)
    assert "10,000 characters" in str(err.value) and f"limit is {MAX_EXPLANATION_CHARS:,}" in str(err.value)


def test_one_character_is_accepted():
    assert validate_explanation(" s ") == "s"


def test_pearson_constant_and_nan_give_zero():
    assert pearson_or_zero([1, 1, 1], [0, 1, 2]) == 0.0
    assert pearson_or_zero([0, 1, 2], [3, 3, 3]) == 0.0
    assert pearson_or_zero([0, math.nan, 2], [0, 1, 2]) == 0.0
    assert pearson_or_zero([1], [1]) == 0.0
    assert pearson_or_zero([0, 1, 2], [0, 2, 4]) == pytest.approx(1.0)


def _pairwise_auroc(labels, scores):
    """The definition: P(a positive outscores a negative), ties counting one half."""
    pos = [s for y, s in zip(labels, scores, strict=True) if y]
    neg = [s for y, s in zip(labels, scores, strict=True) if not y]
    return sum((p > n) + 0.5 * (p == n) for p in pos for n in neg) / (len(pos) * len(neg))


def test_auroc_equals_the_pairwise_definition_with_ties():
    rng = np.random.default_rng(0)
    for trial in range(200):
        n = int(rng.integers(2, 40))
        labels = rng.random(n) < 0.4
        labels[:2] = [True, False]
        scores = rng.integers(0, 4, n).astype(float) if trial % 2 else rng.random(n)  # many ties, or none
        assert auroc(labels, scores) == pytest.approx(_pairwise_auroc(labels, scores), abs=1e-12)


def test_auroc_and_balanced_accuracy():
    assert auroc([1, 1, 0, 0], [0.9, 0.8, 0.1, 0.2]) == 1.0
    assert auroc([1, 0], [0.5, 0.5]) == 0.5  # ties count one half
    assert auroc([1, 1], [0.1, 0.2]) == 0.5  # one class only
    assert balanced_accuracy([1, 1, 0, 0], [1, 0, 0, 0]) == pytest.approx(0.75)


def _rec(peak: float) -> ActivationRecord:
    return ActivationRecord([" a", " b"], [0.0, peak])


def test_held_out_split_keeps_explain_and_score_apart():
    top = [_rec(1.0 - i / 100) for i in range(20)]
    quantile = [_rec(0.1) for _ in range(15)]
    non = [_rec(0.0) for _ in range(30)]
    split = held_out_split(top, quantile, non, n_explain=10, n_score_top=10, n_score_quantile=5,
                           n_score_non_activating=12)
    assert split.explain_ids == list(range(0, 20, 2))
    held_top = [i for kind, i in split.score_sources if kind == "top"]
    assert not set(held_top) & set(split.explain_ids) and len(held_top) == 10
    kinds = [kind for kind, _ in split.score_sources]
    assert kinds.count("quantile") == 5 and kinds.count("non_activating") == 12
    assert len(split.score) == 27
    assert sum(not r.is_activating for r in split.score) == 12


def test_held_out_split_requires_non_activating():
    with pytest.raises(RecordError, match="non-activating"):
        held_out_split([_rec(1.0), _rec(0.5)], [], [_rec(0.2)])
    # A token-level scorer may do without: the held-out side is then top (and quantile) examples only.
    split = held_out_split([_rec(1.0), _rec(0.5), _rec(0.7)], [], [_rec(0.2)], n_explain=1,
                           require_non_activating=False)
    assert len(split.explain) == 1 and len(split.score) == 2 and all(r.is_activating for r in split.score)


def test_held_out_split_single_top_example():
    split = held_out_split([_rec(1.0)], [], [_rec(0.0)])
    assert len(split.explain) == 1 and len(split.score) == 2
