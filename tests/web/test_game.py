"""The game: one click to a puzzle, answers, visitors credited after sign-up, points, leaderboards."""

from __future__ import annotations

import gzip
import json
import random
from datetime import timedelta
from pathlib import Path

import pytest
from django.core import mail
from django.urls import reverse
from django.utils import timezone

from featurepedia.web.catalog.models import Source
from featurepedia.web.explanations.models import Explanation, Vote
from featurepedia.web.game import leaderboard, points
from featurepedia.web.game.explicit import is_explicit
from featurepedia.web.game.models import Campaign, Flag, PlayEvent
from featurepedia.web.game.puzzles import next_puzzle
from featurepedia.web.game.setup import ensure_default_campaign

pytestmark = pytest.mark.django_db


def _puzzle(client):
    """Follow /play/ to a puzzle; returns (response, feature id)."""
    response = client.get(reverse("play"), follow=True)
    return response, int(response.request["PATH_INFO"].rstrip("/").split("/")[-1])


def test_first_answer_is_one_click_from_home(world, client):
    home = client.get("/").content.decode()
    assert f'href="{reverse("play")}"' in home and "Play now" in home and "Explain tiny layer 1" in home
    page, _ = _puzzle(client)
    html = page.content.decode()
    assert page.status_code == 200 and "How to play" in html and "Submit explanation" in html
    assert "&lt;script&gt;" in html and "<script>alert" not in html
    assert "&lt;s&gt;" not in html  # the BOS token is not a clue


def test_puzzles_spread_and_do_not_repeat(world, make_user):
    campaign = world["campaign"]
    rng = random.Random(0)
    f0 = world["features"][0]
    PlayEvent.objects.create(user=make_user("a"), feature=f0, action="vote", points=1)
    picks = {next_puzzle(campaign, rng=rng).pk for _ in range(20)}
    assert f0.pk not in picks and len(picks) == 2  # least-answered first, chosen at random among them
    assert next_puzzle(campaign, exclude=[f.pk for f in world["features"]]) is None


def test_skip_earns_nothing_and_moves_on(world, make_user, client):
    alice = make_user()
    client.force_login(alice)
    _, fid = _puzzle(client)
    response = client.post(reverse("answer", args=["tiny-1", fid]), {"kind": "skip"})
    assert response.status_code == 302 and response["Location"] == reverse("campaign-play", args=["tiny-1"])
    _, fid2 = _puzzle(client)
    assert fid2 != fid and points.total(alice) == 0


def test_first_vote_asks_for_confirmation_once(world, make_user, client):
    cats = world["features"][0]
    e1 = Explanation.objects.create(feature=cats, text="cats", method="token-list")
    e2 = Explanation.objects.create(feature=cats, text="pets", method="llm:x")
    client.force_login(make_user())
    url = reverse("answer", args=["tiny-1", cats.pk])
    confirm = client.post(url, {"kind": "vote", "explanation": e1.pk})
    assert confirm.status_code == 200 and "Your first vote" in confirm.content.decode() and not Vote.objects.exists()
    client.post(url, {"kind": "vote", "explanation": e1.pk, "confirmed": "1"})
    assert Vote.objects.get().explanation == e1
    client.post(url, {"kind": "vote", "explanation": e2.pk})  # no second confirmation
    assert Vote.objects.filter(explanation=e2).exists()
    page = client.get(reverse("puzzle", args=["tiny-1", cats.pk])).content.decode()
    assert "You voted for" in page and "Next puzzle" in page


def test_blind_mode_hides_explanations_until_answer_or_reveal(world, make_user, client):
    cats = world["features"][0]
    Explanation.objects.create(feature=cats, text="secret guess", method="token-list")
    url = reverse("puzzle", args=["tiny-1", cats.pk])
    assert "secret guess" not in client.get(url).content.decode()
    assert "secret guess" in client.get(url + "?reveal=1").content.decode()
    client.force_login(make_user("sighted", blind_mode=False))
    assert "secret guess" in client.get(url).content.decode()


def test_flags_and_previous_puzzle(world, make_user, client):
    alice = make_user()
    client.force_login(alice)
    _, first = _puzzle(client)
    client.post(reverse("answer", args=["tiny-1", first]), {"kind": "polysemantic"})
    assert Flag.objects.get(user=alice).kind == "polysemantic" and points.total(alice) == 1
    second_page, second = _puzzle(client)
    assert second != first
    assert reverse("puzzle", args=["tiny-1", first]) in second_page.content.decode()  # "Previous puzzle"
    client.post(reverse("answer", args=["tiny-1", second]), {"kind": "none-fit"})
    assert set(Flag.objects.values_list("kind", flat=True)) == {"polysemantic", "none-fit"}


def test_write_in_game_scores_and_shows_it(world, make_user, client):
    cats = world["features"][0]
    client.force_login(make_user())
    response = client.post(reverse("answer", args=["tiny-1", cats.pk]), {"kind": "explain", "text": "cats"},
                           follow=True)
    assert "Your explanation scored" in response.content.decode()
    bad = client.post(reverse("answer", args=["tiny-1", cats.pk]), {"kind": "explain", "text": "no" * 300})
    assert bad.status_code == 400 and "limit is 500" in bad.content.decode() and "no" * 300 in bad.content.decode()


def test_visitor_plays_then_signs_up_and_is_credited(world, client):
    cats = world["features"][0]
    e = Explanation.objects.create(feature=cats, text="the word cat", method="token-list")
    url = reverse("answer", args=["tiny-1", cats.pk])
    client.post(url, {"kind": "vote", "explanation": e.pk, "confirmed": "1"})
    page = client.get(reverse("puzzle", args=["tiny-1", cats.pk])).content.decode()
    assert "Vote kept" in page and "Sign up" in page
    numbers = world["features"][1]
    client.post(reverse("answer", args=["tiny-1", numbers.pk]), {"kind": "explain", "text": "numbers and years"})
    signup = client.post(reverse("account_signup"), {"email": "new@example.org", "password1": "a-long-pass-phrase"},
                         follow=True)
    assert signup.status_code == 200
    assert "now yours" in signup.content.decode()
    vote = Vote.objects.get(explanation=e)
    assert vote.user.email == "new@example.org" and vote.value == 1
    mine = Explanation.objects.get(author=vote.user)
    assert mine.text == "numbers and years" and mine.scores.exists()
    assert points.total(vote.user) >= 4
    assert any("new@example.org" in m.to for m in mail.outbox)  # the confirmation mail


def test_explicit_filter_on_the_bundled_corpus():
    path = Path(__file__).resolve().parents[2] / "src/featurepedia/corpus/data/default.jsonl.gz"
    with gzip.open(path, "rt") as f:
        texts = [json.loads(line).get("text", "") for line in f]
    flagged = [t for t in texts if is_explicit(t)]
    assert any("fuck" in t.lower() for t in flagged) and any("shit" in t.lower() for t in flagged)
    assert all(not is_explicit(w) for w in ["cocktail", "Dickens", "Scunthorpe", "assessment", "damn it", "shitake"[:0]])
    assert len(flagged) < 0.02 * len(texts)  # a filter, not a blanket


def test_explicit_clues_hidden_for_players_who_ask(world, client):
    cats = world["features"][0]
    url = reverse("puzzle", args=["tiny-1", cats.pk])
    assert " fucking" in client.get(url).content.decode()
    client.post(reverse("onboarding"), {"explicit_filter": "on", "next": url})
    html = client.get(url).content.decode()
    assert " fucking" not in html and "explicit words hidden" in html and "How to play" not in html
    feature_page = client.get(reverse("feature", args=["tiny", "1-mlp", 0])).content.decode()
    assert " fucking" not in feature_page


@pytest.mark.parametrize("target", ["https://evil.example/", "//evil.example", "https:///evil.example"])
def test_onboarding_never_follows_an_off_site_next(world, client, target):
    response = client.post(reverse("onboarding"), {"next": target})
    assert response.status_code == 302 and response["Location"] == reverse("play")
    on_site = reverse("leaderboard")
    assert client.post(reverse("onboarding"), {"next": on_site})["Location"] == on_site


def test_explicit_logit_tokens_masked_for_players_who_ask(world, client):
    cats = world["features"][0]
    cats.top_logits = [[" meow", 1.2], [" shit", 1.1], [" purr", 0.9]]
    cats.bottom_logits = [[" dog", -1.0], [" cunt", -1.1]]
    cats.save()
    pages = [reverse("feature", args=["tiny", "1-mlp", 0]), reverse("source", args=["tiny", "1-mlp"])]
    for url in pages:
        assert " shit" in client.get(url).content.decode()
    client.post(reverse("onboarding"), {"explicit_filter": "on", "next": pages[0]})
    feature_page, source_page = (client.get(url).content.decode() for url in pages)
    assert " shit" not in feature_page and " cunt" not in feature_page and " shit" not in source_page
    assert " meow" in feature_page and " purr" in feature_page and " dog" in feature_page and " meow" in source_page
    assert feature_page.count(">hidden</code>") == 2  # masked in place: the ranking stays readable


def test_points_streaks_and_leaderboards(world, make_user, client):
    cats = world["features"][0]
    alice = make_user("alice")
    bob = make_user("bob")
    type(bob.profile).objects.filter(user=bob).update(country="GB", region="Kent")
    now = timezone.now()
    for days in (0, 1, 2):
        PlayEvent.objects.create(user=alice, feature=cats, action="vote", points=1, created=now - timedelta(days=days))
    PlayEvent.objects.create(user=bob, feature=cats, action="explain", points=3, created=now - timedelta(days=40))
    PlayEvent.objects.create(user=bob, feature=cats, action="vote", points=1, created=now)
    assert points.streak(alice) == 3 and points.streak(bob) == 1
    assert [r.name for r in leaderboard.leaderboard("all")] == ["bob", "alice"]
    assert [r.name for r in leaderboard.leaderboard("month")][0] in ("alice", "bob")
    assert [r.name for r in leaderboard.leaderboard("all", country="gb")] == ["bob"]
    assert [r.name for r in leaderboard.leaderboard("all", region="kent")] == ["bob"]
    assert leaderboard.rank_of(alice) == (2, 3)
    client.force_login(alice)
    page = client.get(reverse("leaderboard")).content.decode()
    assert "You are <strong>#2</strong>" in page and "bob" in page
    by_country = client.get(reverse("leaderboard"), {"period": "all", "country": "GB"}).content.decode()
    assert "United Kingdom · Kent" in by_country and "alice" not in by_country  # named, and only GB players
    assert '<option value="GB" selected>United Kingdom</option>' in by_country
    assert "alice" in client.get("/").content.decode()  # top players on the home page


def test_default_campaign_is_created_once(world):
    assert ensure_default_campaign("nope", "6-mlp") is None
    c = ensure_default_campaign("tiny", "1-mlp")
    assert c is not None and c == ensure_default_campaign("tiny", "1-mlp") and c.feature_queryset().count() == 3


def test_default_campaign_defaults_to_the_default_settings(world, monkeypatch):
    from featurepedia.settings import reset_settings

    monkeypatch.setenv("FEATUREPEDIA_DEFAULT_MODEL", "tiny")
    monkeypatch.setenv("FEATUREPEDIA_DEFAULT_SOURCE", "1-mlp")
    reset_settings()
    try:
        c = ensure_default_campaign()
    finally:
        monkeypatch.undo()
        reset_settings()
    # Another model is the default: the campaign is named after it, not after SmolLM2's layer 6.
    assert c is not None and c.source == world["source"] and c.slug == "tiny-1-mlp"
    assert c.title == "Explain 1-mlp of tiny"


def test_campaign_with_a_feature_list_and_dates(world):
    c = Campaign.objects.create(slug="pick", title="Picked", source=world["source"])
    c.features.add(world["features"][2])
    assert list(c.feature_queryset()) == [world["features"][2]]
    Campaign.objects.filter(pk=c.pk).update(ends=timezone.now() - timedelta(days=1))
    assert not Campaign.running().filter(pk=c.pk).exists()


def test_a_feature_page_lists_its_running_campaigns_as_the_campaigns_define_them(world, client):
    from featurepedia.web.game.panels import feature_campaigns

    cats, numbers, _ = world["features"]
    other = Source.objects.create(model=world["source"].model, slug="2-mlp", kind="neurons", hook_name="h")
    picked = Campaign.objects.create(slug="pick", title="Picked cats", source=world["source"])
    picked.features.add(cats)
    Campaign.objects.create(slug="elsewhere", title="Elsewhere", source=other)
    Campaign.objects.create(slug="over", title="Over", source=world["source"], active=False)
    for feature in (cats, numbers):  # the reference: each running campaign's own feature list
        expected = [c for c in Campaign.running() if c.feature_queryset().filter(pk=feature.pk).exists()]
        assert feature_campaigns(feature) == expected
    assert {c.slug for c in feature_campaigns(cats)} == {"tiny-1", "pick"}
    html = client.get(reverse("feature", args=["tiny", "1-mlp", 0])).content.decode()
    assert html.count('class="campaign-note small"') == 2 and "Picked cats" in html


def test_a_feature_pages_campaigns_take_one_query_however_many_there_are(world, client):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    url = reverse("feature", args=["tiny", "1-mlp", 0]) + "?groups=all"  # a query: rendered, not a shared page

    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert client.get(url).status_code == 200
        return len(captured)

    client.get(url)  # the session exists from here on
    few = queries()
    for i in range(5):
        Campaign.objects.create(slug=f"extra-{i}", title=f"Extra {i}", source=world["source"])
    assert queries() == few
