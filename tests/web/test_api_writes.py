"""Writes through the API: API keys (hashed, revocable), submitting explanations and voting, as on the site."""

from __future__ import annotations

import pytest
from django.urls import reverse

from featurepedia.web.accounts.keys import hash_key
from featurepedia.web.accounts.models import ApiKey
from featurepedia.web.explanations.models import Explanation, Vote
from featurepedia.web.game.models import PlayEvent

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fresh_cache")]

SUBMIT = "/api/features/tiny/1-mlp/0/explanations"


def post(client, address, body, key=None):
    headers = {"X-Api-Key": key} if key else {}
    return client.post(address, body, content_type="application/json", headers=headers)


def test_keys_are_made_and_revoked_on_the_profile_page_and_stored_hashed(client, make_user):
    user = make_user("kim")
    client.force_login(user)
    page = client.post(reverse("api-key-create"), {"name": "laptop scripts"}).content.decode()
    row = ApiKey.objects.get(user=user)
    key = page.split('<code class="api-key">')[1].split("</code>")[0]
    assert key.startswith("fp_") and len(key) > 40 and row.prefix == key[:9]
    assert row.hashed == hash_key(key) and key not in {row.name, row.prefix, row.hashed}  # only its hash is kept
    assert "laptop scripts" in page and "not shown again" in page
    again = client.get(reverse("profile")).content.decode()
    assert key not in again and f"{row.prefix}…" in again  # shown once
    assert post(client, f"/api/explanations/{1}/vote", {"value": 1}, key).status_code == 404  # the key works
    client.post(reverse("api-key-revoke", args=[row.pk]))
    row.refresh_from_db()
    assert row.revoked is not None and "revoked" in client.get(reverse("profile")).content.decode()
    assert post(client, f"/api/explanations/{1}/vote", {"value": 1}, key).status_code == 401


def test_someone_elses_key_cannot_be_revoked(client, api_key, make_user):
    owner, _ = api_key("owner")
    client.force_login(make_user("mallory"))
    client.post(reverse("api-key-revoke", args=[owner.api_keys.get().pk]))
    assert owner.api_keys.get().revoked is None


@pytest.mark.parametrize("key", [None, "", "fp_not-a-key", "sk-neuronpedia-key"])
def test_writes_without_a_valid_key_are_401_and_say_how_to_get_one(client, world, key):
    response = post(client, SUBMIT, {"text": "cats"}, key)
    assert response.status_code == 401
    body = response.json()
    assert body == {"ok": False, "status": 401, "error": body["error"]} and "profile page" in body["error"]
    assert client.get("/api/feature/tiny/1-mlp/0", headers={"X-Api-Key": key or ""}).status_code == 200  # reads work
    assert not Explanation.objects.exists()


def test_submit_is_stored_scored_and_earns_points_as_on_the_site(client, world, api_key):
    user, key = api_key("writer")
    response = post(client, SUBMIT, {"text": "the word cat and kittens"}, key)
    assert response.status_code == 201
    body = response.json()
    stored = Explanation.objects.get(author=user)
    assert body["outcome"] == "new" and body["explanation"]["id"] == stored.pk and body["new_best"] is True
    assert body["explanation"]["text"] == stored.text == "the word cat and kittens"
    assert body["explanation"]["score"] is not None and 0.0 <= body["explanation"]["score"] <= 1.0
    assert body["points"] == 8 and "scored" in body["message"]  # 3 for explaining, 5 for a new best
    assert PlayEvent.objects.filter(user=user, action="explain", points=3).exists()
    assert post(client, SUBMIT + "/", {"text": "no"}, key).json()["error"].startswith("An explanation needs at least 3")


def test_a_near_duplicate_becomes_an_upvote(client, world, api_key, make_user, no_embeddings):
    original = Explanation.objects.create(feature=world["features"][0], text="the word cat", author=make_user("ann"))
    user, key = api_key("writer")
    response = post(client, SUBMIT, {"text": "The word CAT!"}, key)
    assert response.status_code == 200
    body = response.json()
    assert body["outcome"] == "duplicate" and body["explanation"]["id"] == original.pk and body["explanation"]["ups"] == 1
    assert Vote.objects.get(user=user).explanation == original and Explanation.objects.count() == 1


def test_votes_new_changed_same_removed(client, world, api_key, make_user):
    e = Explanation.objects.create(feature=world["features"][0], text="cats", author=make_user("ann"))
    user, key = api_key("voter")
    address = f"/api/explanations/{e.pk}/vote"
    first = post(client, address, {"value": 1}, key).json()
    assert (first["outcome"], first["points"], first["explanation"]["ups"]) == ("new", 1, 1)
    changed = post(client, address + "/", {"value": -1}, key).json()
    assert (changed["outcome"], changed["points"], changed["explanation"]["downs"]) == ("changed", 0, 1)
    assert post(client, address, {"value": -1}, key).json()["outcome"] == "same"
    assert post(client, address, {"value": 0}, key).json()["outcome"] == "removed"
    assert post(client, address, {"value": 0}, key).json()["outcome"] == "none"
    assert not Vote.objects.exists() and PlayEvent.objects.filter(user=user, action="vote").count() == 1


def test_vote_errors(client, world, api_key, make_user):
    author, key = api_key("author")
    own = Explanation.objects.create(feature=world["features"][0], text="cats", author=author)
    assert "You wrote this explanation" in post(client, f"/api/explanations/{own.pk}/vote", {"value": 1}, key).json()["error"]
    draft = Explanation.objects.create(feature=world["features"][0], text="dogs", author=make_user("b"), status="draft")
    assert post(client, f"/api/explanations/{draft.pk}/vote", {"value": 1}, key).status_code == 404
    bad = post(client, f"/api/explanations/{own.pk}/vote", {"value": 5}, key).json()
    assert bad["status"] == 400 and "body.value" in bad["error"]


def test_the_number_of_active_keys_is_capped(client, make_user):
    from featurepedia.web.accounts.keys import MAX_ACTIVE_KEYS, create_key

    user = make_user("many")
    for i in range(MAX_ACTIVE_KEYS):
        create_key(user, f"key {i}")
    client.force_login(user)
    refused = client.post(reverse("api-key-create"), {"name": "one more"})
    assert refused.status_code == 400 and "revoke one you no longer use" in refused.content.decode()
    assert user.api_keys.count() == MAX_ACTIVE_KEYS


def test_moderators_can_revoke_keys_in_the_admin(client, api_key, django_user_model):
    owner, key = api_key("owner")
    client.force_login(django_user_model.objects.create_superuser("mod", "mod@example.org", "pw-123456!"))
    row = owner.api_keys.get()
    client.post(reverse("admin:accounts_apikey_changelist"), {"action": "revoke", "_selected_action": [row.pk]})
    row.refresh_from_db()
    assert row.revoked is not None
    assert client.get(reverse("admin:accounts_apikey_add")).status_code == 403


def test_writes_with_a_key_need_no_csrf_token(world, api_key, make_user):
    from django.test import Client

    e = Explanation.objects.create(feature=world["features"][0], text="cats", author=make_user("ann"))
    _, key = api_key("voter")
    client = Client(enforce_csrf_checks=True)  # a script: a key, no cookie, no CSRF token
    assert post(client, f"/api/explanations/{e.pk}/vote", {"value": 1}, key).json()["outcome"] == "new"
    created = post(client, SUBMIT, {"text": "words about small furry pets"}, key)
    assert created.status_code in (200, 201), created.content
