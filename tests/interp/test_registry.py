"""Registry behaviour: built-ins, unknown names, double registration, third-party registration."""

from __future__ import annotations

import pytest

from featurepedia.interp import (
    Explainer,
    Scorer,
    ScoreResult,
    UnknownComponentError,
    get_explainer,
    get_scorer,
    list_explainers,
    list_scorers,
    register_explainer,
    register_scorer,
    registry,
)


def test_builtins_are_registered():
    assert list_explainers() == ["local-lm", "openai", "pattern", "token-list"]
    assert list_scorers() == ["detection", "embedding", "form", "fuzzing", "simulation"]


def test_every_builtin_has_what_the_protocols_promise():
    for name in list_scorers():
        scorer = get_scorer(name)
        assert isinstance(scorer, Scorer) and scorer.name == name and scorer.version
        assert isinstance(scorer.uses_llm, bool)
    for name in list_explainers():
        explainer = get_explainer(name)
        assert isinstance(explainer, Explainer) and explainer.name == name and explainer.version
        assert isinstance(explainer.method, str) and explainer.method
        assert explainer.last_details == {"explainer": name, "version": explainer.version}


def test_a_component_missing_a_promised_attribute_is_not_one():
    class NoMethod:
        name, version, last_details = "x", "1", {}

        def explain(self, records):
            return "x"

    class NoUsesLLM:
        name, version = "x", "1"

        def score(self, explanation, records):
            return ScoreResult(0.5)

    assert not isinstance(NoMethod(), Explainer) and not isinstance(NoUsesLLM(), Scorer)


def test_unknown_name_lists_registered_ones():
    with pytest.raises(UnknownComponentError, match="embedding, form, fuzzing, simulation"):
        get_scorer("nope")
    with pytest.raises(UnknownComponentError, match="local-lm, openai, pattern, token-list"):
        get_explainer("nope")


def test_registering_twice_raises(monkeypatch):
    monkeypatch.setattr(registry, "_SCORERS", dict(registry._SCORERS))
    with pytest.raises(ValueError, match="already registered"):
        register_scorer("embedding", lambda: None)


def test_third_party_registration_and_options(monkeypatch, small_records):
    monkeypatch.setattr(registry, "_SCORERS", dict(registry._SCORERS))
    monkeypatch.setattr(registry, "_EXPLAINERS", dict(registry._EXPLAINERS))

    class Constant:
        name, version, uses_llm = "constant", "0", False

        def __init__(self, value: float = 0.5):
            self.value = value

        def score(self, explanation, records):
            return ScoreResult(self.value, {"scorer": self.name, "version": self.version,
                                            "predictions": [self.value] * len(records)})

    register_scorer("constant", Constant)
    register_explainer("echo", "featurepedia.interp.explainers.token_list:TokenListExplainer")
    assert get_scorer("constant", value=0.7).score("x", small_records).value == 0.7
    assert get_explainer("echo").explain(small_records)
    with pytest.raises(TypeError):
        register_scorer("bad", "no-colon-here")
