"""LLM-judged scorers and the local-LM explainer: mechanics on a tiny random model, one real-model check."""

from __future__ import annotations

import time

import numpy as np
import pytest

from featurepedia.interp import RecordError, get_explainer, get_scorer
from featurepedia.interp.backends.local import LocalLM
from featurepedia.interp.scorers.fuzzing import FuzzingScorer


@pytest.mark.parametrize("name", ["simulation", "detection", "fuzzing"])
def test_scorer_mechanics(name, tiny_llama, small_records):
    result = get_scorer(name, model=tiny_llama).score("animals", small_records)
    d = result.details
    assert d["scorer"] == name and d["version"] and d["backend"] == "local" and d["cost_usd"] == 0.0
    assert np.isfinite(result.value)
    if name == "simulation":
        assert -1.0 <= result.value <= 1.0
        assert [len(p) for p in d["predictions"]] == [len(r.tokens) for r in small_records]
        assert all(0.0 <= v <= 9.0 for p in d["predictions"] for v in p)
    else:
        assert 0.0 <= result.value <= 1.0
        assert len(d["predictions"]) == len(d["labels"]) and all(0 <= p <= 1 for p in d["predictions"])


def test_simulation_is_deterministic(tiny_llama, small_records):
    scorer = get_scorer("simulation", model=tiny_llama)
    assert scorer.score("cats", small_records).value == scorer.score("cats", small_records).value


def test_constant_simulation_scores_zero(tiny_llama, small_records, monkeypatch):
    scorer = get_scorer("simulation", model=tiny_llama)
    monkeypatch.setattr(scorer, "_simulate_local", lambda text, records: [np.full(len(r.tokens), 3.0) for r in records])
    assert scorer.score("cats", small_records).value == 0.0


def test_prompt_longer_than_the_model_takes(tiny_gpt2, small_records):
    with pytest.raises(RecordError, match="tokens; tiny-gpt2 takes at most 256"):
        get_scorer("simulation", model=tiny_gpt2).score("cats", small_records)


def test_prefix_cache_matches_full_forward(tiny_llama):
    """The fast path (shared prefix cache, few logit rows) equals a plain forward pass."""
    lm = LocalLM(tiny_llama)
    prefix, suffixes = lm.encode("The quick brown"), [lm.encode(" fox jumps"), lm.encode(" dog")]
    cands = [5, 6, 7]
    fast = lm.candidate_logprobs(prefix, suffixes, [[0, 1], [0]], cands)
    for suffix, pos, got in zip(suffixes, [[0, 1], [0]], fast, strict=True):
        logits = tiny_llama.logits(__import__("torch").tensor([prefix + suffix]))[0]
        want = logits[[len(prefix) + p for p in pos]][:, cands].log_softmax(-1).numpy()
        np.testing.assert_allclose(got, want, atol=1e-4)


def test_fuzzing_marks_active_and_wrong_tokens(small_records):
    texts, labels, owners = FuzzingScorer().marked_texts(small_records)
    assert texts[0] == "The <<cat>> sat." and labels[0] is True
    assert labels.count(True) == 2 and labels.count(False) == 4 and owners[:2] == [0, 0]


def test_local_explainer_mechanics(tiny_llama, small_records):
    explainer = get_explainer("local-lm", model=tiny_llama, max_new_tokens=4)
    text = explainer.explain(small_records)
    assert isinstance(text, str) and text and len(text) <= 200
    assert explainer.method == "llm:tiny-llama" and explainer.last_details["cost_usd"] == 0.0


@pytest.mark.slow
def test_real_model_explains_and_simulates(real_model, small_records):
    """The embedded model runs as explainer and simulator in seconds (quality: see bench/autointerp.py)."""
    start = time.perf_counter()
    text = get_explainer("local-lm", model=real_model).explain(small_records)
    assert text and len(text) <= 200
    result = get_scorer("simulation", model=real_model).score("animals such as cats and dogs", small_records)
    assert -1.0 <= result.value <= 1.0
    # The simulator should at least expect more on "cat"/"dog" than on the average token.
    preds = result.details["predictions"]
    assert max(preds[0][1], preds[1][1]) >= np.mean([v for p in preds for v in p])
    assert time.perf_counter() - start < 60
