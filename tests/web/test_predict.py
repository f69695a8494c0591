"""Predict-the-activations: held-out texts, the score against a numpy reference, durable answers once per
player, the human simulation score and skill, visitors credited at sign-up, and the comparison page."""

from __future__ import annotations

import numpy as np
import pytest
from django.db import IntegrityError, transaction
from django.urls import reverse

from featurepedia.web.catalog.models import ActivationExample
from featurepedia.web.explanations.models import Explanation, ExplanationScore
from featurepedia.web.explanations.scoring import feature_records
from featurepedia.web.game import points
from featurepedia.web.game.models import PlayEvent, Prediction
from featurepedia.web.game.predict import (
    PredictError,
    check_marks,
    choose_texts,
    fingerprint,
    load_texts,
    simulation_score,
    square,
)
from featurepedia.web.game.predictions import (
    HUMAN_SCORER,
    AlreadyPredicted,
    Player,
    human_score,
    save_prediction,
    skill,
)
from tests.web.conftest import FILLER

pytestmark = pytest.mark.django_db


def test_the_score_is_numpys_pearson_of_marks_and_clipped_truth_pooled_over_all_texts():
    marks = [[0, 10, 0, 0, 3], [0, 0, 5], [0, 0, 0]]
    truth = [[0.0, 0.9, 0.2, -0.3, 0.0], [0.0, 0.1, 0.6], [0.0, 0.0, 0.0]]
    reference = np.corrcoef(np.concatenate(marks), np.clip(np.concatenate(truth), 0, None))[0, 1]
    assert simulation_score(marks, truth) == pytest.approx(reference, abs=1e-12)
    unclipped = np.corrcoef(np.concatenate(marks), np.concatenate(truth))[0, 1]
    assert 0.5 < reference < 0.99 and abs(reference - unclipped) > 0.01  # non-trivial, and clipping matters
    assert simulation_score([[0, 0, 0], [0, 0]], [[0.0, 1.0, 0.0], [0.0, 0.0]]) == 0.0  # nothing marked
    assert simulation_score([[10, 0], [0, 0]], [[1.0, 0.0], [0.0, 0.0]]) == pytest.approx(1.0)
    assert square([0, 10, 0], [0.0, 1.0, 0.0]) == "🟩" and square([10, 0, 0], [0.0, 1.0, 0.0]) == "⬜"
    assert square([0, 0], [0.0, 0.0]) == "🟩" and square([10, 10, 10], [0.0, 0.0, 0.0]) == "⬜"


def _big_feature(world, index: int = 7):
    """A feature with 20 top examples (as a default build stores), 5 per quantile group and 10 negatives."""
    from tests.web.conftest import make_feature

    feature = make_feature(world["source"], index, ["cat"] * 20)
    rows = []
    for group in range(2, 4):
        for rank in range(5):
            tokens = ["<s>", *FILLER[:4], " cat", *FILLER[4:]]
            values = [0.0] * len(tokens)
            values[5] = 0.3 + 0.1 * group
            rows.append(ActivationExample(feature=feature, bin=f"q{group}", rank=rank, tokens=tokens,
                                          token_ids=list(range(len(tokens))), values=values, max_value=values[5]))
    for rank in range(4, 10):
        tokens = ["<s>", *FILLER]
        rows.append(ActivationExample(feature=feature, bin="negative", rank=rank, tokens=tokens,
                                      token_ids=list(range(len(tokens))), values=[0.0] * len(tokens)))
    ActivationExample.objects.bulk_create(rows)
    return feature


def test_texts_are_the_scorers_held_out_ones_never_shown_as_clues(world):
    feature = _big_feature(world)
    texts = choose_texts(feature, seed=1)
    split = feature_records(feature).split()
    top = {e.pk: e for e in feature.examples.filter(bin="top")}
    explain_side = {pk for pk, e in top.items() if e.rank in split.explain_ids}
    assert len(texts) == 4 and sum(t.activating for t in texts) == 3
    chosen = {t.example for t in texts}
    assert not chosen & explain_side  # never an example the explainer saw
    assert all(top[pk].rank >= 6 for pk in chosen if pk in top)  # nor a clue of the Vote puzzle
    assert choose_texts(feature, seed=1) == texts and fingerprint(choose_texts(feature, seed=2)) != fingerprint(texts)
    assert load_texts(feature, [t.ref for t in texts]) == texts  # stored references read back the same
    quiet = next(t for t in texts if not t.activating)
    assert feature.examples.get(pk=quiet.example).bin == "negative"


def test_a_feature_without_quiet_examples_cannot_be_predicted(world):
    feature = world["features"][0]
    feature.examples.filter(bin="negative").delete()
    assert choose_texts(feature, seed=0) == []


def _marks_hitting(texts, wrong: int = 0) -> dict[str, list[str]]:
    """Form data marking every token that fires, plus ``wrong`` tokens of the quiet text."""
    data: dict[str, list[str]] = {}
    for r, t in enumerate(texts):
        hits = [str(i) for i, v in enumerate(t.truth) if v > 0]
        if not t.activating:
            hits = [str(i) for i in range(wrong)]
        data[f"m{r}"] = hits
    return data


def test_a_visitor_predicts_without_js_and_is_scored_as_the_reference_computes(world, client):
    cats = world["features"][0]
    e = Explanation.objects.create(feature=cats, text="the word cat", method="token-list")
    page = client.get(reverse("predict"), follow=True)
    html = page.content.decode()
    assert page.status_code == 200 and page.request["PATH_INFO"] == reverse("predict-puzzle", args=["tiny-1", e.pk])
    assert "the word cat" in html and 'type="checkbox" name="m0"' in html and "Check my guess" in html
    assert 'style="' not in html and "<script>" not in html  # classes and static scripts only (CSP)
    texts = choose_texts(cats, seed=e.pk)
    data = {"texts": fingerprint(texts), **_marks_hitting(texts, wrong=2)}
    answer = client.post(reverse("predict-answer", args=["tiny-1", e.pk]), data, follow=True)
    prediction = Prediction.objects.get()
    # The reference: truth read straight from the stored examples (BOS dropped, 10% of max = active).
    marks, truth = [], []
    for r, t in enumerate(texts):
        values = ActivationExample.objects.get(pk=t.example).values[1 + t.start:1 + t.start + len(t.tokens)]
        truth += [v if v > 0.1 else 0.0 for v in values]
        marks += [10 if str(i) in data[f"m{r}"] else 0 for i in range(len(t.tokens))]
    assert prediction.score == pytest.approx(np.corrcoef(marks, truth)[0, 1])
    assert prediction.user is None and prediction.visitor and 0 < prediction.score < 1
    result = answer.content.decode()
    assert f"Your guess scored {prediction.score:.2f}" in result and "Sign up to keep it" in result
    assert 'data-value="1.000"' in result and "Next puzzle" in result
    assert not ExplanationScore.objects.filter(scorer=HUMAN_SCORER, status="ok").exists()  # visitors don't count yet

    again = client.post(reverse("predict-answer", args=["tiny-1", e.pk]), data, follow=True)
    assert "already played this explanation" in again.content.decode() and Prediction.objects.count() == 1

    signup = client.post(reverse("account_signup"), {"email": "p@example.org", "password1": "a-long-pass-phrase"},
                         follow=True)
    assert "predictions from before you signed in are now yours" in signup.content.decode()
    prediction.refresh_from_db()
    assert prediction.user is not None and points.total(prediction.user) >= 1
    assert human_score(e).value == pytest.approx(prediction.score) and human_score(e).players == 1


def test_changed_texts_and_bad_marks_are_refused_without_storing(world, client):
    cats = world["features"][0]
    e = Explanation.objects.create(feature=cats, text="the word cat", method="token-list")
    url = reverse("predict-answer", args=["tiny-1", e.pk])
    stale = client.post(url, {"texts": "1:0:3", "m0": ["1"]}, follow=True)
    assert "changed since you opened it" in stale.content.decode()
    texts = choose_texts(cats, seed=e.pk)
    bad = client.post(url, {"texts": fingerprint(texts), "v0_1": "lots"}, follow=True)
    assert "whole numbers from 0 to 10" in bad.content.decode() and not Prediction.objects.exists()
    with pytest.raises(PredictError, match="text 1 has"):
        check_marks([[0]] + [[0] * len(t.tokens) for t in texts[1:]], texts)


def test_advanced_mode_has_a_slider_per_token(world, client, make_user):
    cats = world["features"][0]
    e = Explanation.objects.create(feature=cats, text="the word cat", method="token-list")
    player = make_user("adv", advanced_mode=True)
    client.force_login(player)
    html = client.get(reverse("predict-puzzle", args=["tiny-1", e.pk])).content.decode()
    texts = choose_texts(cats, seed=e.pk)
    assert html.count('type="range"') == sum(len(t.tokens) for t in texts) and 'type="checkbox"' not in html
    data = {"texts": fingerprint(texts)}
    for r, t in enumerate(texts):
        for i, v in enumerate(t.truth):
            data[f"v{r}_{i}"] = str(round(10 * v))
    client.post(reverse("predict-answer", args=["tiny-1", e.pk]), data)
    prediction = Prediction.objects.get(user=player)
    assert prediction.score == pytest.approx(1.0) and max(max(m) for m in prediction.marks) == 10
    event = PlayEvent.objects.get(user=player)
    assert event.action == "predict" and event.points == 4  # 1 for playing + 3 for a perfect score


def test_one_answer_per_player_the_human_score_and_skill(world, make_user):
    cats = world["features"][0]
    e = Explanation.objects.create(feature=cats, text="the word cat", method="token-list")
    texts = choose_texts(cats, seed=e.pk)
    perfect = [[10.0 * v for v in t.truth] for t in texts]
    nothing = [[0.0] * len(t.tokens) for t in texts]
    alice, bob = make_user("alice"), make_user("bob")
    save_prediction(e, texts, perfect, Player(alice, ""))
    save_prediction(e, texts, nothing, Player(bob, ""))
    with pytest.raises(AlreadyPredicted):
        save_prediction(e, texts, nothing, Player(alice, ""))
    with pytest.raises(IntegrityError), transaction.atomic():  # the constraint itself, not only the check
        Prediction.objects.create(explanation=e, feature=cats, user=alice, score=0.0)
    row = ExplanationScore.objects.get(explanation=e, scorer=HUMAN_SCORER)
    assert row.value == pytest.approx((1.0 + 0.0) / 2) and row.details["players"] == 2
    assert skill(alice).value is None and skill(alice).predictions == 1  # shown after 3
    for i, words in enumerate([["dog"], ["cow"]]):
        other = Explanation.objects.create(feature=world["features"][i + 1], text=words[0], method="token-list")
        t2 = choose_texts(other.feature, seed=other.pk)
        save_prediction(other, t2, [[10.0 * v for v in t.truth] for t in t2], Player(alice, ""))
    assert skill(alice).value == pytest.approx(1.0) and skill(alice).predictions == 3
    with pytest.raises(IntegrityError), transaction.atomic():
        Prediction.objects.create(explanation=e, feature=cats, score=0.0)  # neither a user nor a visitor


def test_the_comparison_page_reads_each_measure_and_invents_no_rating(world, client, make_user):
    cats, numbers = world["features"][:2]
    author = make_user("writer")
    rows = [(cats, "human", 0.9, 0.7), (cats, "token-list", 0.8, 0.4),
            (numbers, "human", 0.6, None), (numbers, "token-list", 0.7, 0.5)]
    made = []
    for feature, method, auto, human in rows:
        e = Explanation.objects.create(feature=feature, text=f"{method} about {feature.index}", method=method,
                                       author=author if method == "human" else None)
        ExplanationScore.objects.create(explanation=e, scorer="form", value=auto, status="ok")
        if human is not None:
            ExplanationScore.objects.create(explanation=e, scorer=HUMAN_SCORER, value=human, status="ok",
                                            details={"players": 3})
        made.append(e)
    html = client.get(reverse("compare")).content.decode()
    assert "Pairwise rating (This vs That)" in html and "no This-vs-That rating has been computed yet" in html
    assert "human about 0" in html and "token-list about 1" in html
    assert "people better on 1, machines on 1 of 2 features" in html  # automatic: 0.9 > 0.8, 0.6 < 0.7
    assert "people better on 1, machines on 0 of 1 feature" in html  # human simulation: only cats has both
    assert 'style="' not in html
    ExplanationScore.objects.create(explanation=made[0], scorer="pairwise", value=1234.5, status="ok")
    rated = client.get(reverse("compare") + "?source=tiny/1-mlp").content.decode()
    assert "1234.500" in rated and "no This-vs-That rating" not in rated


def test_explicit_texts_are_left_out_for_players_who_ask(world):
    feature = _big_feature(world)
    rude = feature.examples.get(bin="top", rank=7)  # held out and never a clue
    rude.tokens = [*rude.tokens[:6], " shit", *rude.tokens[7:]]
    rude.save()
    filtered = [choose_texts(feature, seed=s, hide_explicit=True) for s in range(8)]
    unfiltered = [choose_texts(feature, seed=s) for s in range(8)]
    assert all(rude.pk not in {t.example for t in texts} for texts in filtered)
    assert any(rude.pk in {t.example for t in texts} for texts in unfiltered)


def test_the_feature_page_shows_the_people_score(world, client, make_user):
    cats = world["features"][0]
    e = Explanation.objects.create(feature=cats, text="the word cat", method="token-list")
    texts = choose_texts(cats, seed=e.pk)
    save_prediction(e, texts, [[10.0 * v for v in t.truth] for t in texts], Player(make_user(), ""))
    html = client.get(reverse("feature", args=["tiny", "1-mlp", 0])).content.decode()
    assert "People's scores" in html and "1.00" in html and "(1 player)" in html
    assert reverse("predict-campaign", args=["tiny-1"]) in html


@pytest.mark.services
@pytest.mark.django_db(transaction=True)
def test_answers_at_once_count_once_each_and_all_reach_the_human_score(world, make_user):
    """Six answers at the same moment, two from each of three players: three are stored, three refused, and
    the human score (recomputed under a row lock) counts all three players. On PostgreSQL (`make pytest`
    runs the web tests there too): the in-memory SQLite test database cannot take writes from threads."""
    import threading

    from django.db import connection

    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL: run with FEATUREPEDIA_DATABASE_URL=postgres://...")
    cats = world["features"][0]
    e = Explanation.objects.create(feature=cats, text="the word cat", method="token-list")
    texts = choose_texts(cats, seed=e.pk)
    players = [make_user(f"p{i}") for i in range(3)] * 2
    start, outcomes = threading.Barrier(len(players)), []

    def answer(user) -> None:
        try:
            start.wait()
            save_prediction(e, texts, [[10.0 * v for v in t.truth] for t in texts], Player(user, ""))
            outcomes.append("stored")
        except AlreadyPredicted:
            outcomes.append("refused")
        finally:
            connection.close()

    threads = [threading.Thread(target=answer, args=(u,)) for u in players]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert sorted(outcomes) == ["refused"] * 3 + ["stored"] * 3
    assert Prediction.objects.count() == 3 and PlayEvent.objects.count() == 3
    assert ExplanationScore.objects.get(explanation=e, scorer=HUMAN_SCORER).details["players"] == 3


def test_a_puzzle_that_can_no_longer_be_played_is_passed_over(world, client):
    cats, numbers = world["features"][:2]
    first = Explanation.objects.create(feature=cats, text="the word cat", method="token-list")
    second = Explanation.objects.create(feature=numbers, text="numbers", method="token-list")
    start = reverse("predict-campaign", args=["tiny-1"])
    landed = client.get(start)["Location"]
    gone, other = (first, second) if landed.endswith(f"/{first.pk}") else (second, first)
    gone.feature.examples.filter(bin="negative").delete()  # nothing quiet to score against any more
    assert client.get(start)["Location"] == reverse("predict-puzzle", args=["tiny-1", other.pk])
    skip = client.post(reverse("predict-skip", args=["tiny-1", other.pk]))
    assert skip["Location"] == start and "Nothing left to predict" in client.get(start).content.decode()
