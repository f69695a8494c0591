"""The API's Predict, daily and comparison routes: puzzles without the truth, answers with a key, once each."""

from __future__ import annotations

import pytest

from featurepedia.web.explanations.models import Explanation
from featurepedia.web.game.models import DailyPuzzle, Prediction
from featurepedia.web.game.predict import choose_texts, load_texts
from featurepedia.web.game.predictions import HUMAN_SCORER
from tests.web.test_api_errors import assert_error_shape

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fresh_cache")]


@pytest.fixture
def explained(world):
    return [Explanation.objects.create(feature=f, text=f"topic {f.index}", method="token-list")
            for f in world["features"]]


def _perfect(texts) -> list[list[float]]:
    """Marks of 10 x the true activation (correlation 1)."""
    return [[10.0 * v for v in t.truth] for t in texts]


def test_a_puzzle_hides_the_truth_and_an_answer_is_scored_once(client, explained, api_key):
    user, key = api_key()
    e = explained[0]
    puzzle = client.get(f"/api/explanations/{e.pk}/predict").json()
    assert puzzle["explanation"] == "topic 0" and puzzle["model"] == "tiny" and len(puzzle["texts"]) >= 2
    assert set(puzzle["texts"][0]) == {"example_id", "start", "tokens"}  # no values
    url = f"/api/explanations/{e.pk}/predict"
    body = {"marks": _perfect(choose_texts(e.feature, seed=e.pk)), "fingerprint": puzzle["fingerprint"]}
    assert_error_shape(client.post(url, body, content_type="application/json"), 401)
    answer = client.post(url, body, content_type="application/json", headers={"X-Api-Key": key})
    assert answer.status_code == 201, answer.content
    result = answer.json()
    assert result["score"] == pytest.approx(1.0) and result["points"] == 4 and result["players"] == 1
    assert result["human_simulation"] == pytest.approx(1.0) and "🟩" in result["squares"]
    assert max(max(t) for t in result["truth"]) == pytest.approx(1.0)
    again = assert_error_shape(client.post(url, body, content_type="application/json", headers={"X-Api-Key": key}), 409)
    assert "already played" in again["error"] and Prediction.objects.count() == 1
    listed = client.get(f"/api/explanations/{e.pk}").json()
    assert any(s["scorer"] == HUMAN_SCORER and s["value"] == pytest.approx(1.0) for s in listed["scores"])
    nxt = client.get("/api/predict/next", headers={"X-Api-Key": key}).json()
    assert nxt["explanation_id"] != e.pk  # the next one is one this player has not done


def test_bad_answers_say_what_to_fix(client, explained, api_key):
    _, key = api_key()
    e = explained[0]
    puzzle = client.get(f"/api/explanations/{e.pk}/predict").json()
    url, headers = f"/api/explanations/{e.pk}/predict", {"X-Api-Key": key}
    short = assert_error_shape(client.post(url, {"marks": [[0]]}, content_type="application/json", headers=headers),
                               400)
    assert "this puzzle has" in short["error"]
    over = {"marks": [[11] * len(t["tokens"]) for t in puzzle["texts"]]}
    assert_error_shape(client.post(url, over, content_type="application/json", headers=headers), 400)
    stale = {"marks": _perfect(choose_texts(e.feature, seed=e.pk)), "fingerprint": "1:2:3"}
    assert "changed since" in assert_error_shape(client.post(url, stale, content_type="application/json",
                                                             headers=headers), 400)["error"]
    assert_error_shape(client.get("/api/explanations/999999/predict"), 404)
    assert_error_shape(client.get("/api/daily?campaign=nope"), 404)
    assert not Prediction.objects.exists()


def test_the_daily_route_and_its_share_text(client, explained, api_key):
    _, key = api_key()
    daily = client.get("/api/daily").json()
    assert daily["campaign"] == "tiny-1" and daily["number"] == 1 and "index" not in daily
    stored = DailyPuzzle.objects.get()
    body = {"marks": _perfect(load_texts(stored.feature, stored.texts)), "fingerprint": daily["fingerprint"]}
    answer = client.post("/api/daily", body, content_type="application/json", headers={"X-Api-Key": key})
    assert answer.status_code == 201, answer.content
    result = answer.json()
    assert result["share"].startswith(f"Featurepedia daily #1 · {daily['date']}\n")
    assert result["share"].endswith("/daily/tiny-1/") and result["points"] == 5  # 2 for the daily + 3
    assert_error_shape(client.post("/api/daily", body, content_type="application/json", headers={"X-Api-Key": key}),
                       409)


def test_compare_and_best_predictors(client, explained, api_key):
    compared = client.get("/api/compare?model=tiny&source=1-mlp")
    assert compared.status_code == 200
    body = compared.json()
    assert [k["kind"] for k in body["kinds"]] == ["human", "machine"] and body["kinds"][1]["explanations"] == 3
    assert body["kinds"][1]["pairwise_rating"] is None and body["features"]["count"] == 0
    assert_error_shape(client.get("/api/compare?model=tiny&source=nope"), 404)
    assert client.get("/api/predict/players").json() == []
