"""Explaining and scoring stored features through the database, the task framework and the CLI."""

from __future__ import annotations

import random

import pytest

from featurepedia.cli import main as cli
from featurepedia.web.catalog.models import ActivationExample, Feature, LanguageModel, Source, SourceDataError
from featurepedia.web.explanations.models import Explanation, ExplanationScore
from featurepedia.web.explanations.scoring import (
    activity_threshold,
    enqueue_score,
    explain_feature,
    feature_records,
    score_explanation,
)
from tests.openai_stub import ANSWER, fake_chat_server

pytestmark = pytest.mark.django_db

ANIMALS = ["cat", "dog", "horse", "cow", "sheep", "goat", "rabbit", "mouse"]
FILLER = ("the weather was cold and the train left early while people talked about money and work in "
          "the city on a Monday morning with tea").split()


def _context(rng: random.Random, with_animal: bool) -> tuple[list[str], list[float]]:
    words = [rng.choice(FILLER) for _ in range(20)]
    values = [0.0] * 21
    if with_animal:
        for _ in range(2):
            i = rng.randrange(20)
            words[i] = rng.choice(ANIMALS)
            values[i + 1] = round(rng.uniform(2.0, 4.0), 3)
    tokens = ["<|bos|>"] + [(" " if i else "") + w for i, w in enumerate(words)]
    return tokens, values


def planted_feature(index: int = 0, kind: str = "sae", nonnegative: bool = True) -> Feature:
    """A feature that fires on animal words: 20 top, 10 quantile and 10 non-activating examples."""
    model, _ = LanguageModel.objects.get_or_create(slug="planted")
    run = {"source": {"kind": kind, "nonnegative": nonnegative}, "config": {"active_fraction": 0.1}}
    source, _ = Source.objects.get_or_create(
        model=model, slug="0-res-sae", defaults={"kind": kind, "hook_name": "blocks.0.hook_resid_post",
                                                 "n_features": 4, "status": "ready", "config": run})
    feature = Feature.objects.create(source=source, index=index, max_act=4.0, density=0.01)
    rng = random.Random(index)
    rows = []
    for bin_, count, animal in (("top", 20, True), ("q0", 10, True), ("negative", 10, False)):
        for rank in range(count):
            tokens, values = _context(rng, animal)
            rows.append(ActivationExample(feature=feature, bin=bin_, rank=rank, tokens=tokens, values=values,
                                          token_ids=list(range(len(tokens))), max_value=max(values),
                                          max_index=values.index(max(values))))
    ActivationExample.objects.bulk_create(rows)
    return feature


def test_feature_records_drop_bos_and_split_bins():
    records = feature_records(planted_feature())
    assert len(records.top) == 20 and len(records.quantile) == 10 and len(records.non_activating) == 10
    assert all(r.tokens[0] != "<|bos|>" for r in records.top)
    assert not any(r.is_activating for r in records.non_activating)


@pytest.mark.parametrize(("kind", "nonnegative", "expected"), [
    ("sae", True, 0.0), ("neurons", False, 0.4),
    ("transcoder", False, 0.4),  # signed, though not "neurons"
    ("neurons", True, 0.0),  # non-negative, though "neurons"
])
def test_the_activity_threshold_follows_the_stored_non_negative_flag(kind, nonnegative, expected):
    feature = planted_feature(kind=kind, nonnegative=nonnegative)  # max activation 4.0
    assert activity_threshold(feature) == pytest.approx(expected)


def test_a_source_without_a_stored_run_says_its_density_rule_is_unknown():
    feature = planted_feature()
    Source.objects.filter(pk=feature.source_id).update(config={})
    feature.refresh_from_db()
    with pytest.raises(SourceDataError, match="no non-negative flag"):
        activity_threshold(feature)


def test_explain_then_score_a_planted_feature():
    feature = planted_feature()
    explanation = explain_feature(feature)
    assert explanation.method == "pattern" and explanation.text  # the default explainer
    assert any(a in explanation.text.lower() for a in ANIMALS)
    good = score_explanation(explanation)
    assert good.status == ExplanationScore.Status.OK and good.value > 0.8
    assert good.details["scorer"] == "form" and len(good.details["predictions"]) == 30  # 10 held-out top + 10 quantile + 10 negative
    bad = Explanation.objects.create(feature=feature, text="mentions of money and trains", method="human")
    assert score_explanation(bad).value < good.value


def test_an_llm_explanation_keeps_the_usage_cost_and_raw_output_of_its_call():
    feature = planted_feature()
    with fake_chat_server() as url:
        explanation = explain_feature(feature, "openai", base_url=url, api_key="k", model="m",
                                      price_input=1.0, price_output=2.0)
    assert explanation.method == "llm:m" and explanation.text == "animals"
    stored = Explanation.objects.get(pk=explanation.pk).details
    assert stored["explainer"] == "openai" and stored["model"] == "m" and stored["raw"] == ANSWER
    assert stored["prompt_tokens"] == 100 and stored["completion_tokens"] == 10 and stored["requests"] == 1
    assert stored["cost_usd"] == pytest.approx((100 * 1.0 + 10 * 2.0) / 1e6)


def test_explain_is_idempotent_per_method():
    feature = planted_feature()
    first = explain_feature(feature)
    again = explain_feature(feature)
    assert first.pk == again.pk and Explanation.objects.filter(feature=feature).count() == 1


def test_enqueue_scores_in_process_in_embedded_mode():
    feature = planted_feature()
    explanation = Explanation.objects.create(feature=feature, text="animal names such as cat and dog")
    enqueue_score(explanation)
    row = ExplanationScore.objects.get(explanation=explanation, scorer="form")
    assert row.status == "ok" and row.value > 0.8


def test_a_scorer_failure_is_stored_and_the_explanation_kept():
    feature = planted_feature()
    ActivationExample.objects.filter(feature=feature, bin="negative").delete()  # a dense feature
    explanation = Explanation.objects.create(feature=feature, text="animals")
    row = score_explanation(explanation, "embedding")  # compares texts: it needs some where the feature is quiet
    assert row.status == "failed" and "non-activating" in row.error and row.value is None
    assert Explanation.objects.filter(pk=explanation.pk).exists()
    unknown = score_explanation(explanation, "no-such-scorer")
    assert unknown.status == "failed" and "embedding" in unknown.error  # lists the registered scorers


def test_the_default_scorer_scores_a_feature_active_in_every_sampled_context():
    # Dense features (active somewhere in every context the build sampled) have no non-activating example;
    # the form scorer compares tokens, so the quiet tokens of the activating examples are the other side.
    feature = planted_feature()
    ActivationExample.objects.filter(feature=feature, bin="negative").delete()
    right = score_explanation(Explanation.objects.create(feature=feature, text="animal names such as cat and dog"))
    wrong = score_explanation(Explanation.objects.create(feature=feature, text="numbers and dates"))
    assert right.status == wrong.status == "ok"
    assert right.value > 0.8 and right.value > wrong.value + 0.2
    assert right.details["n_non_activating"] == 0 and right.details["n_active_tokens"] > 0


def test_cli_explain_and_score_are_idempotent(capsys):
    for i in range(3):
        planted_feature(i)
    assert cli(["explain", "--model", "planted", "--source", "0-res-sae", "--quiet"]) == 0
    assert "explained 3 features" in capsys.readouterr().out
    assert ExplanationScore.objects.filter(status="ok").count() == 3
    assert cli(["explain", "--model", "planted", "--source", "0-res-sae", "--quiet"]) == 0
    assert "explained 0 features" in capsys.readouterr().out
    assert cli(["score", "--model", "planted", "--source", "0-res-sae", "--quiet"]) == 0
    assert "scored 0 explanations" in capsys.readouterr().out
    assert cli(["score", "--model", "planted", "--source", "0-res-sae", "--force", "--features", "0-1",
                "--quiet"]) == 0
    assert "scored 2 explanations" in capsys.readouterr().out


def test_cli_rejects_bad_feature_ranges(capsys):
    planted_feature()
    assert cli(["explain", "--model", "planted", "--source", "0-res-sae", "--features", "3-x"]) == 2
    assert "not an index or range" in capsys.readouterr().err
    assert cli(["score", "--model", "planted", "--source", "0-res-sae", "--features", "0-99"]) == 2
    assert "outside 0-3" in capsys.readouterr().err
    assert cli(["score", "--model", "planted", "--source", "9-mlp"]) == 2
    assert "no source planted/9-mlp" in capsys.readouterr().err


def test_a_feature_selection_is_indices_or_a_usage_error():
    from featurepedia.errors import UsageError
    from featurepedia.web.explanations.batch import parse_indices

    assert parse_indices("all", 3) == [0, 1, 2]
    assert parse_indices("5, 0-2,1", 10) == [0, 1, 2, 5]
    with pytest.raises(UsageError, match="outside 0-9"):
        parse_indices("8-10", 10)
    with pytest.raises(UsageError, match="not an index or range"):
        parse_indices("2-", 10)


def test_demo_scores_in_a_background_process_with_a_command_that_scores_what_is_pending(monkeypatch):
    import subprocess

    from featurepedia.lm import embedded
    from featurepedia.settings import reset_settings
    from featurepedia.web import demo
    from featurepedia.web.explanations.batch import explain_features

    for i in range(4):  # all 4 features of the planted source: it counts as built
        planted_feature(i)
    features = Source.objects.get(slug="0-res-sae").features.all()
    assert explain_features(features, "token-list", score=False, progress=False) == 4
    assert not ExplanationScore.objects.exists()
    started, said = [], []
    monkeypatch.setattr(subprocess, "Popen", lambda command, **kw: started.append(command) or "child")
    assert demo.background_work("planted", "0-res-sae", {}, 1000, said.append) == "child"
    # 4 features: too few to map
    assert "in the background: score 4 explanations with form; then explain 4 features with pattern" in said[0]
    command = started[0]
    assert command[0].endswith("nice") and command[1:3] == ["-n", "10"]  # low priority: the site stays quick
    assert command[command.index("demo"):] == ["demo", "--no-serve", "--quiet", "--tokens", "1000"]
    # The child's command line, run here with the planted source as the default (its model is already
    # prepared and the test database migrated): it scores exactly what was pending, then writes a pattern
    # explanation of each feature and scores it.
    monkeypatch.setattr(embedded, "prepare", lambda: None)
    monkeypatch.setattr(demo, "setup", lambda: None)
    monkeypatch.setenv("FEATUREPEDIA_DEFAULT_MODEL", "planted")
    monkeypatch.setenv("FEATUREPEDIA_DEFAULT_SOURCE", "0-res-sae")
    reset_settings()
    try:
        assert cli(command[command.index("demo"):]) == 0
    finally:
        monkeypatch.delenv("FEATUREPEDIA_DEFAULT_MODEL")
        monkeypatch.delenv("FEATUREPEDIA_DEFAULT_SOURCE")
        reset_settings()
    assert ExplanationScore.objects.filter(status="ok").count() == 8
    patterns = Explanation.objects.filter(method="pattern")
    assert patterns.count() == 4 and all(e.scores.get().status == "ok" for e in patterns)
    assert all(e.text.startswith("words like") or "such as" in e.text for e in patterns)  # sentences
    assert demo.background_work("planted", "0-res-sae", {}, 1000, said.append) is None  # nothing left: no process
    assert len(started) == 1
