"""Fixtures for autointerp tests: real corpus text cut into word tokens, and planted-feature records."""

from __future__ import annotations

import re
from itertools import islice

import pytest

from featurepedia.corpus import iter_documents
from featurepedia.interp import ActivationRecord, HeldOutSplit, held_out_split
from featurepedia.interp.planted import PLANTED_FEATURES, planted_records

_WORDS = re.compile(r" ?[A-Za-z']+| ?\d+| ?[^\sA-Za-z\d]|\s+")


@pytest.fixture(scope="session")
def word_token_lists() -> list[list[str]]:
    """32-token texts from the default corpus, tokenised into words (no model tokenizer needed)."""
    out = []
    for doc in islice(iter_documents("default"), 4000):
        tokens = _WORDS.findall(doc)
        out.extend(tokens[i: i + 32] for i in range(0, len(tokens) - 31, 32))
    return out


@pytest.fixture(scope="session")
def planted_splits(word_token_lists) -> dict[str, HeldOutSplit]:
    """Held-out splits of every planted feature, by name."""
    splits = {}
    for feature in PLANTED_FEATURES:
        top, quantile, non = planted_records(feature, word_token_lists, n_top=20, n_quantile=10, n_non_activating=12)
        splits[feature.name] = held_out_split(top, quantile, non, n_score_quantile=6)
    return splits


@pytest.fixture
def small_records() -> list[ActivationRecord]:
    """Two activating and two non-activating records about animals."""
    return [
        ActivationRecord([" The", " cat", " sat", "."], [0.0, 1.0, 0.0, 0.0]),
        ActivationRecord([" A", " dog", " ran", "."], [0.0, 0.8, 0.0, 0.0]),
        ActivationRecord([" Prices", " rose", " in", " May", "."], [0.0] * 5),
        ActivationRecord([" He", " wrote", " code", "."], [0.0] * 4),
    ]
