"""The This-vs-That and Odd-one-out API routes: reading needs no key, answering needs one and earns points
as on the site; errors are in the one shape."""

from __future__ import annotations

import pytest

from featurepedia.web.explanations.models import Explanation, ExplanationScore
from featurepedia.web.game import points
from featurepedia.web.game.models import Comparison, OddOneAnswer

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fresh_cache")]


def post(client, address, body, key=None):
    return client.post(address, body, content_type="application/json", headers={"X-Api-Key": key} if key else {})


@pytest.fixture
def pair(world):
    cats = world["features"][0]
    es = [Explanation.objects.create(feature=cats, text=t, method=f"m{i}") for i, t in enumerate(["cats", "pets"])]
    ExplanationScore.objects.create(explanation=es[0], scorer="form", value=0.8, status="ok")
    return es


def test_versus_pair_choice_and_ranking(client, pair, api_key):
    user, key = api_key("judge")
    got = client.get("/api/versus/pair").json()
    assert got["campaign"] == "tiny-1" and (got["model"], got["source"], got["index"]) == ("tiny", "1-mlp", 0)
    assert [e["id"] for e in got["explanations"]] == sorted(e.pk for e in pair)
    ids = [e["id"] for e in got["explanations"]]
    assert post(client, "/api/versus/choices", {"explanations": ids, "better": ids[1]}).status_code == 401
    made = post(client, "/api/versus/choices", {"explanations": ids, "better": ids[1]}, key)
    assert made.status_code == 201, made.json()
    body = made.json()
    assert body["points"] == 1 and body["others"] == 0 and body["ranking"]["comparisons"] == 1
    assert Comparison.objects.get().user == user and points.total(user) == 1
    twice = post(client, "/api/versus/choices", {"explanations": ids, "better": None}, key)
    assert twice.status_code == 409 and twice.json()["ok"] is False and "already compared" in twice.json()["error"]
    none_left = client.get("/api/versus/pair", headers={"X-Api-Key": key})
    assert none_left.status_code == 404 and "no pair left" in none_left.json()["error"]
    ranking = client.get("/api/features/tiny/1-mlp/0/ranking").json()
    assert ranking["people"] == 1 and not ranking["settled"]
    first = ranking["explanations"][0]
    assert {"rating", "sd", "score", "comparisons", "wins", "judged_bad"} <= set(first)
    by_id = {e["id"]: e for e in ranking["explanations"]}
    assert by_id[ids[1]]["wins"] == 1 and by_id[pair[0].pk]["score"] == 0.8


@pytest.mark.parametrize("body, status", [({"explanations": [1], "better": 1}, 400),
                                          ({"explanations": [1, 2, 3], "better": 1}, 400),
                                          ({"explanations": [0, 2], "better": None}, 400),
                                          ({"explanations": [10**6, 10**6 + 1], "better": None}, 404)])
def test_bad_choices_are_refused_in_the_error_shape(client, pair, api_key, body, status):
    _, key = api_key("judge")
    response = post(client, "/api/versus/choices", body, key)
    assert response.status_code == status
    assert response.json()["ok"] is False and response.json()["status"] == status
    assert not Comparison.objects.exists()


def test_odd_one_out_round_answer_and_consistency(client, world, api_key):
    user, key = api_key("spotter")
    got = client.get("/api/odd-one-out/round?campaign=tiny-1").json()
    assert got["campaign"] == "tiny-1" and len(got["snippets"]) == 4
    assert "odd" not in got and "index" not in got  # nothing given away
    s = got["snippets"][0]
    assert 0 <= s["mark"] < len(s["tokens"])
    answered = post(client, f"/api/odd-one-out/rounds/{got['id']}/answer", {"pick": None}, key)
    assert answered.status_code == 201
    body = answered.json()
    assert body["found"] is False and body["points"] == 1 and 0 <= body["odd"] < 4
    assert body["consistency"]["answers"] == 1 and OddOneAnswer.objects.get().user == user
    again = post(client, f"/api/odd-one-out/rounds/{got['id']}/answer", {"pick": body["odd"]}, key)
    assert again.status_code == 409
    assert post(client, f"/api/odd-one-out/rounds/{got['id']}/answer", {"pick": 1}).status_code == 401
    assert post(client, "/api/odd-one-out/rounds/999999/answer", {"pick": 1}, key).status_code == 404
    feature = (body["model"], body["source"], body["index"])
    c = client.get("/api/features/{}/{}/{}/consistency".format(*feature)).json()
    assert c == body["consistency"] and c["found"] == 0 and c["flagged"] is False
    assert client.get("/api/odd-one-out/round?campaign=nope").status_code == 404
