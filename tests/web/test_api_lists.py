"""Our read routes: models, sources, features (paged, with best explanations), explanations, campaigns, boards."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from featurepedia.web.catalog.models import LanguageModel
from featurepedia.web.explanations.models import Explanation, ExplanationScore, Vote
from featurepedia.web.game.models import Campaign, PlayEvent

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fresh_cache")]


def test_models_and_their_sources(client, world):
    LanguageModel.objects.create(slug="other", name="Other", n_layers=2, d_model=8)
    body = client.get("/api/models").json()
    assert body["count"] == 2 and body["next_offset"] is None
    assert body["items"][1] == {"id": "tiny", "name": "Tiny", "n_layers": 0, "d_model": 0, "n_sources": 1}
    assert body["items"][0]["id"] == "other"
    sources = client.get("/api/models/tiny/sources").json()["items"]
    assert sources == [{"id": "1-mlp", "model": "tiny", "kind": "neurons", "hook_name": "blocks.1.mlp.hook_post",
                        "n_features": 3, "status": "ready", "corpus": "", "n_tokens": 0,
                        "density_threshold": "> 10% of max"}]
    assert client.get("/api/models/other/sources").json()["items"] == []


def test_features_are_paged_with_their_best_explanation(client, world, make_user):
    cats, numbers, _ = world["features"]
    alice, bob = make_user("alice"), make_user("bob")
    voted = Explanation.objects.create(feature=cats, text="cats", author=alice)
    scored = Explanation.objects.create(feature=cats, text="felines", method="token-list")
    ExplanationScore.objects.create(explanation=scored, scorer="form", value=0.9, status="ok")
    Vote.objects.create(user=bob, explanation=voted, value=1)
    Explanation.objects.create(feature=numbers, text="numbers", method="token-list")

    first = client.get("/api/models/tiny/sources/1-mlp/features?limit=2").json()
    assert (first["count"], first["limit"], first["offset"], first["next_offset"]) == (3, 2, 0, 2)
    row = first["items"][0]
    assert row == {"index": 0, "max_act": 1.0, "min_act": 0.0, "density": 0.01, "url": "/tiny/1-mlp/0",
                   "best_explanation": {"id": voted.pk, "text": "cats", "score": None, "ups": 1}}
    assert first["items"][1]["best_explanation"]["text"] == "numbers"
    rest = client.get("/api/models/tiny/sources/1-mlp/features?limit=2&offset=2").json()
    assert [r["index"] for r in rest["items"]] == [2] and rest["next_offset"] is None
    assert rest["items"][0]["best_explanation"] is None


@pytest.mark.parametrize(("query", "says"), [("limit=0", "query.limit"), ("limit=201", "less than or equal to 200"),
                                            ("offset=-1", "query.offset"), ("limit=many", "valid integer")])
def test_paging_is_capped(client, world, query, says):
    body = client.get(f"/api/models/tiny/sources/1-mlp/features?{query}").json()
    assert body["status"] == 400 and says in body["error"]


def test_a_features_explanations_best_first_and_one_by_id(client, world, make_user):
    cats = world["features"][0]
    alice = make_user("alice")
    low = Explanation.objects.create(feature=cats, text="the letter c", author=alice)
    high = Explanation.objects.create(feature=cats, text="cats", method="token-list")
    ExplanationScore.objects.create(explanation=low, scorer="form", version="1", value=0.2, status="ok")
    ExplanationScore.objects.create(explanation=high, scorer="form", version="1", value=0.9, status="ok")
    hidden = Explanation.objects.create(feature=cats, text="spam", author=alice, status="hidden")

    body = client.get("/api/features/tiny/1-mlp/0/explanations").json()
    assert [e["text"] for e in body["items"]] == ["cats", "the letter c"] and body["count"] == 2
    listed = body["items"][1]
    assert listed["author"] == "alice" and listed["method"] == "human" and listed["score"] == 0.2
    assert (listed["model"], listed["source"], listed["index"]) == ("tiny", "1-mlp", 0)
    assert listed["scores"] == [{"scorer": "form", "version": "1", "value": 0.2, "status": "ok", "error": ""}]
    assert client.get(f"/api/explanations/{low.pk}").json() == listed
    missing = client.get(f"/api/explanations/{hidden.pk}")
    assert missing.status_code == 404 and "no published explanation" in missing.json()["error"]


def test_campaigns(client, world):
    Campaign.objects.create(slug="later", title="Not yet", starts=timezone.now() + timedelta(days=1))
    Campaign.objects.create(slug="off", title="Switched off", active=False)
    Explanation.objects.create(feature=world["features"][0], text="cats", method="token-list")
    items = client.get("/api/campaigns").json()["items"]
    assert [c["slug"] for c in items] == ["later", "tiny-1"]
    tiny = items[1]
    assert tiny == {
        "slug": "tiny-1", "title": "Explain tiny layer 1", "description": "", "model": "tiny", "source": "1-mlp",
        "starts": None, "ends": None, "running": True, "contest": False, "n_features": 3, "n_explained": 1, "url": "/play/tiny-1/"}
    assert items[0]["running"] is False and items[0]["source"] is None


def test_leaderboard(client, world, make_user):
    cats = world["features"][0]
    ann, ben = make_user("ann", country="GB", display_name="Ann"), make_user("ben", country="FR")
    PlayEvent.objects.create(user=ann, feature=cats, action="explain", points=3)
    PlayEvent.objects.create(user=ben, feature=cats, action="vote", points=1)
    PlayEvent.objects.create(user=ben, feature=cats, action="vote", points=1,
                             created=timezone.now() - timedelta(days=40))
    board = client.get("/api/leaderboard").json()
    assert board["rows"] == [{"rank": 1, "name": "Ann", "country": "GB", "region": "", "points": 3},
                             {"rank": 2, "name": "ben", "country": "FR", "region": "", "points": 2}]
    assert [r["points"] for r in client.get("/api/leaderboard?period=month").json()["rows"]] == [3, 1]
    assert [r["name"] for r in client.get("/api/leaderboard/?country=fr").json()["rows"]] == ["ben"]
    assert client.get("/api/leaderboard?period=year").json()["status"] == 400
