"""Lists (private with a share link, public, with a test text), bookmarks, and comments with reports,
moderation and rate limits, through the site and the API."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from featurepedia.inference.activations import activations
from featurepedia.lm.pool import get_model
from featurepedia.sources.neurons import NeuronSource
from featurepedia.web.accounts.keys import create_key
from featurepedia.web.community import services
from featurepedia.web.community.models import Bookmark, Comment, FeatureList, ListItem
from featurepedia.web.explanations.models import Explanation
from tests.web.live_world import MODEL, SOURCE, live_client, make_live_world  # noqa: F401  (fixture)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fresh_cache")]


def signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def messages_of(response) -> str:
    return " ".join(m.message for m in response.context["messages"]) if response.context else ""


def test_a_private_list_is_made_from_a_feature_page_and_shared_by_its_link(world, make_user):
    alice, bob = make_user("alice"), make_user("bob")
    f0, f1 = world["features"][:2]
    Explanation.objects.create(feature=f1, text="numbers and years", method="token-list")
    a = signed_in(alice)
    page = a.get("/tiny/1-mlp/0").content.decode()
    assert "☆ Bookmark" in page and 'name="title"' in page and "Discussion" in page
    made = a.post(reverse("list-new"), {"title": "Things I like", "feature": f0.pk})
    lst = FeatureList.objects.get()
    assert made.status_code == 302 and made["Location"] == reverse("list", args=[lst.pk])
    assert not lst.public and list(lst.items.values_list("feature_id", flat=True)) == [f0.pk]
    a.post(reverse("list-add", args=[f1.pk]), {"list": lst.pk, "note": "years too"})
    again = a.post(reverse("list-add", args=[f1.pk]), {"list": lst.pk}, follow=True)
    assert "Already in “Things I like”" in messages_of(again)
    shown = a.get(reverse("list", args=[lst.pk])).content.decode()
    assert "tiny/1-mlp #0" in shown and "numbers and years" in shown and "years too" in shown
    share = re.search(r'value="(http://testserver/lists/\d+/\?key=[^"]+)"', shown).group(1)
    # a private list: not listed, 404 to others without the key, shown with it
    assert "Things I like" not in Client().get(reverse("lists")).content.decode()
    assert signed_in(bob).get(reverse("list", args=[lst.pk])).status_code == 404
    assert Client().get(reverse("list", args=[lst.pk]) + "?key=wrong").status_code == 404
    with_key = Client().get(share.replace("http://testserver", ""))
    assert with_key.status_code == 200 and "numbers and years" in with_key.content.decode()
    # others cannot change it
    assert signed_in(bob).post(reverse("list-add", args=[f0.pk]), {"list": lst.pk}).status_code == 302
    assert ListItem.objects.count() == 2
    assert signed_in(bob).post(reverse("list-delete", args=[lst.pk])).status_code == 404
    # made public, it is listed; removing and deleting work for the owner
    a.post(reverse("list-edit", args=[lst.pk]), {"title": "Things I like", "public": "on", "description": "",
                                                 "test_text": ""})
    assert "Things I like" in Client().get(reverse("lists")).content.decode()
    a.post(reverse("list-remove", args=[lst.pk, f0.pk]))
    assert list(lst.items.values_list("feature_id", flat=True)) == [f1.pk]
    a.post(reverse("list-delete", args=[lst.pk]))
    assert not FeatureList.objects.exists() and ListItem.objects.count() == 0


def test_list_input_is_checked_with_reasons(world, make_user):
    a = signed_in(make_user("alice"))
    empty = a.post(reverse("list-new"), {"title": "   "}, follow=True)
    assert "A list needs a title" in messages_of(empty)
    override = a.post(reverse("list-new"), {"title": "evil\u202eeman"}, follow=True)
    assert "text-direction override (U+202E" in messages_of(override)
    long = a.post(reverse("list-new"), {"title": "ok", "description": "x" * 2001}, follow=True)
    assert "the limit is 2,000" in messages_of(long)
    assert not FeatureList.objects.exists()
    assert Client().get(reverse("list-new")).status_code == 302  # to sign in


def test_bookmarks_toggle_and_are_listed(world, make_user):
    alice = make_user("alice")
    a = signed_in(alice)
    f = world["features"][2]
    a.post(reverse("bookmark", args=[f.pk]))
    assert Bookmark.objects.filter(user=alice, feature=f).exists()
    assert "★ Bookmarked" in a.get("/tiny/1-mlp/2").content.decode()
    assert "tiny/1-mlp #2" in a.get(reverse("bookmarks")).content.decode()
    a.post(reverse("bookmark", args=[f.pk]))
    assert not Bookmark.objects.exists()


def test_comments_are_shown_escaped_rate_limited_and_hidden_after_reports(world, make_user):
    alice = make_user("alice")
    a = signed_in(alice)
    f = world["features"][0]
    a.post(reverse("comment", args=[f.pk]), {"text": "Fires on <b>cats</b>\nbut also on dogs?"})
    page = Client().get("/tiny/1-mlp/0").content.decode()
    assert "Fires on &lt;b&gt;cats&lt;/b&gt;<br>but also on dogs?" in page and "1 comment" in page
    for i in range(services.COMMENTS_PER_BURST - 1):
        a.post(reverse("comment", args=[f.pk]), {"text": f"comment {i}"})
    refused = a.post(reverse("comment", args=[f.pk]), {"text": "one too many"}, follow=True)
    assert f"You have posted {services.COMMENTS_PER_BURST} comments in the last 10 minutes" in messages_of(refused)
    assert "one too many" in refused.content.decode()  # the text is kept in the form
    assert Comment.objects.count() == services.COMMENTS_PER_BURST
    Comment.objects.update(created=timezone.now() - timedelta(minutes=11))
    assert a.post(reverse("comment", args=[f.pk]), {"text": "later"}).status_code == 302
    assert Comment.objects.count() == services.COMMENTS_PER_BURST + 1
    # reports: the author cannot report their own; three others hide it until a moderator looks
    target = Comment.objects.get(text__startswith="Fires on")
    own = a.post(reverse("comment-report", args=[target.pk]), follow=True)
    assert "delete it instead" in messages_of(own)
    for name in ("r1", "r2"):
        signed_in(make_user(name)).post(reverse("comment-report", args=[target.pk]))
    target.refresh_from_db()
    assert target.status == Comment.Status.LIVE
    signed_in(make_user("r3")).post(reverse("comment-report", args=[target.pk]))
    target.refresh_from_db()
    assert target.status == Comment.Status.REPORTED
    assert "Fires on" not in Client().get("/tiny/1-mlp/0").content.decode()
    # the author deletes another of theirs: gone from the page, still stored
    later = Comment.objects.get(text="later")
    a.post(reverse("comment-delete", args=[later.pk]))
    later.refresh_from_db()
    assert later.status == Comment.Status.DELETED and ">later<" not in Client().get("/tiny/1-mlp/0").content.decode()


def test_moderators_restore_a_reported_comment_and_a_banned_authors_comments_are_hidden(world, make_user,
                                                                                         admin_client):
    alice = make_user("alice")
    c = services.post_comment(alice, world["features"][0], "a fair point")
    Comment.objects.filter(pk=c.pk).update(status=Comment.Status.REPORTED)
    admin_client.post(reverse("admin:community_comment_changelist"),
                      {"action": "restore", "_selected_action": [c.pk]})
    c.refresh_from_db()
    assert c.status == Comment.Status.LIVE
    type(alice.profile).objects.filter(user=alice).update(banned=True)
    assert "a fair point" not in Client().get("/tiny/1-mlp/0").content.decode()
    for name in ("featurelist", "comment", "commentreport", "bookmark"):
        assert admin_client.get(reverse(f"admin:community_{name}_changelist")).status_code == 200


def test_the_api_reads_and_writes_lists_and_comments(world, make_user):
    alice, bob = make_user("alice"), make_user("bob")
    _row, key = create_key(alice, "lists")
    api = Client(headers={"X-Api-Key": key})
    made = api.post("/api/lists", {"title": "API list", "test_text": "a cat"}, content_type="application/json")
    assert made.status_code == 201 and made.json()["public"] is False
    list_id = made.json()["id"]
    added = api.post(f"/api/lists/{list_id}/features", {"model": "tiny", "source": "1-mlp", "index": 1},
                     content_type="application/json")
    assert added.status_code == 200 and added.json()["features"][0]["index"] == 1
    assert Client().get(f"/api/lists/{list_id}").status_code == 404
    share_key = FeatureList.objects.get(pk=list_id).share_key
    assert Client().get(f"/api/lists/{list_id}?key={share_key}").json()["n_features"] == 1
    assert Client().get("/api/lists").json()["items"] == []
    _row2, bob_key = create_key(bob, "bob")
    foreign = Client(headers={"X-Api-Key": bob_key}).post(
        f"/api/lists/{list_id}/features", {"model": "tiny", "source": "1-mlp", "index": 0},
        content_type="application/json")
    assert foreign.status_code == 404  # a private list of someone else is not even there
    posted = api.post("/api/features/tiny/1-mlp/0/comments", {"text": "seen in code too"},
                      content_type="application/json")
    assert posted.status_code == 201 and posted.json()["author"] == "alice"
    assert [c["text"] for c in Client().get("/api/features/tiny/1-mlp/0/comments").json()["items"]] == [
        "seen in code too"]
    assert Client().post("/api/features/tiny/1-mlp/0/comments", {"text": "x"},
                         content_type="application/json").status_code == 401
    for i in range(services.COMMENTS_PER_BURST - 1):
        api.post("/api/features/tiny/1-mlp/0/comments", {"text": f"c{i}"}, content_type="application/json")
    limited = api.post("/api/features/tiny/1-mlp/0/comments", {"text": "more"}, content_type="application/json")
    assert limited.status_code == 429 and "wait about" in limited.json()["error"]


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("live_client")
def test_a_lists_test_text_runs_through_each_feature_with_the_models_values(make_user):
    world = make_live_world()
    alice = make_user("alice")
    text = "The cat sat on the mat."
    lst = services.create_list(alice, "Live", test_text=text)
    for f in world["features"][:2]:
        services.add_to_list(alice, lst, f)
    a = signed_in(alice)
    before = a.get(reverse("list", args=[lst.pk])).content.decode()
    assert "Run it through every feature" in before and "of its max" not in before
    page = a.get(reverse("list", args=[lst.pk]) + "?test=1").content.decode()
    direct = activations(get_model(MODEL), NeuronSource(get_model(MODEL), 1), [0, 1], [text])[0]
    shown = [float(v) for v in re.findall(r"<td>max (-?[\d.]+)", page)]
    assert shown == pytest.approx([round(fv.max_value, 3) for fv in direct.features], abs=1e-3)
    assert page.count('class="ctx small"') == 2 and SOURCE in page


def test_a_visitors_cached_feature_page_shows_a_new_or_hidden_comment_at_once(world, make_user):
    alice = make_user("alice")
    f = world["features"][1]
    assert "No comments yet" in Client().get("/tiny/1-mlp/1").content.decode()
    c = services.post_comment(alice, f, "seen on dates too")
    assert "seen on dates too" in Client().get("/tiny/1-mlp/1").content.decode()
    Comment.objects.filter(pk=c.pk).update(status=Comment.Status.HIDDEN)
    assert "seen on dates too" not in Client().get("/tiny/1-mlp/1").content.decode()
