"""Contests: a board of the points earned in the campaign between its start and end, results once it ends,
scheduling from the admin, the closed page, the API, and the how-scoring page's numbers."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone

from featurepedia.web.explanations.models import Explanation, ExplanationScore
from featurepedia.web.explanations.scoring import DEFAULT_SCORER
from featurepedia.web.game import contests as quests
from featurepedia.web.game import leaderboard as boards
from featurepedia.web.game import points
from featurepedia.web.game.models import Campaign, PlayEvent

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fresh_cache")]


def play(user, feature, campaign, action=PlayEvent.Action.VOTE, points_=1, when=None, explanation=None):
    return PlayEvent.objects.create(user=user, feature=feature, campaign=campaign, action=action, points=points_,
                                    created=when or timezone.now(), explanation=explanation)


@pytest.fixture
def contest(world):
    now = timezone.now()
    return Campaign.objects.create(slug="side-quest", title="Side quest", source=world["source"], contest=True,
                                   starts=now - timedelta(days=2), ends=now + timedelta(days=1, hours=3))


def test_the_board_counts_only_points_earned_in_the_contest_while_it_ran(world, contest, make_user):
    alice, bob, carol, banned = (make_user(n) for n in ("alice", "bob", "carol", "banned"))
    type(banned.profile).objects.filter(user=banned).update(banned=True)
    f = world["features"][0]
    play(alice, f, contest, points_=3)
    play(alice, f, contest, points_=1, when=contest.starts - timedelta(minutes=1))  # before the start
    play(bob, f, contest, points_=5)
    play(bob, f, world["campaign"], points_=50)  # another campaign
    play(carol, f, contest, points_=3)
    play(banned, f, contest, points_=100)
    rows = quests.standings(contest)
    assert [(r.name, r.points, r.rank) for r in rows] == [("bob", 5, 1), ("alice", 3, 2), ("carol", 3, 2)]
    assert quests.rank_in(contest, alice) == (2, 3)
    assert quests.rank_in(contest, banned) == (None, 0)
    # contest points count on the main board too
    assert {r.name: r.points for r in boards.leaderboard()}["bob"] == 55
    # a play after the end changes nothing
    Campaign.objects.filter(pk=contest.pk).update(ends=timezone.now() + timedelta(seconds=1))
    contest.refresh_from_db()
    play(carol, f, contest, points_=10, when=contest.ends + timedelta(minutes=5))
    assert [r.points for r in quests.standings(contest)] == [5, 3, 3]


def test_a_running_contest_page_shows_its_board_time_left_and_where_to_play(world, contest, make_user, client):
    alice = make_user("alice")
    play(alice, world["features"][0], contest, points_=4)
    page = client.get(reverse("contest", args=[contest.slug])).content.decode()
    assert "<strong>Running</strong>" in page and re.search(r"1 day [23] hours left", page)
    assert reverse("campaign-play", args=[contest.slug]) in page
    assert "<td>alice</td>" in page and "<td>4</td>" in page
    listing = client.get(reverse("contests")).content.decode()
    assert "Side quest" in listing and "Running now" in listing


def test_an_ended_contest_shows_final_results_and_its_play_page_says_it_ended(world, contest, make_user, client):
    alice, bob = make_user("alice"), make_user("bob")
    f = world["features"][2]
    during = Explanation.objects.create(feature=f, author=alice, text="names of European capital cities")
    Explanation.objects.filter(pk=during.pk).update(created=contest.starts + timedelta(hours=1))
    ExplanationScore.objects.create(explanation=during, scorer=DEFAULT_SCORER, value=0.91,
                                    status=ExplanationScore.Status.OK)
    before = Explanation.objects.create(feature=f, author=bob, text="cities in Europe, written before it")
    Explanation.objects.filter(pk=before.pk).update(created=contest.starts - timedelta(days=1))
    ExplanationScore.objects.create(explanation=before, scorer=DEFAULT_SCORER, value=0.99,
                                    status=ExplanationScore.Status.OK)
    play(alice, f, contest, PlayEvent.Action.EXPLAIN, 3, when=contest.starts + timedelta(hours=1), explanation=during)
    Campaign.objects.filter(pk=contest.pk).update(ends=timezone.now() - timedelta(minutes=1))
    client.force_login(alice)
    page = client.get(reverse("contest", args=[contest.slug])).content.decode()
    assert "Final standings" in page and "You finished <strong>#1</strong> with 3 points" in page
    assert "names of European capital cities" in page and "written before it" not in page
    results = quests.results(Campaign.objects.get(pk=contest.pk))
    assert results.n_written == 1 and results.n_players == 1 and results.by_action == {"explain": 1}
    closed = client.get(reverse("campaign-play", args=[contest.slug]))
    assert closed.status_code == 200 and "has ended" in closed.content.decode()
    assert reverse("contest", args=[contest.slug]) in closed.content.decode()
    assert "Results" in client.get(reverse("contests")).content.decode()


def test_a_contest_needs_a_start_before_its_end(world):
    with pytest.raises(ValidationError, match="needs a start and an end"):
        Campaign(slug="x", title="x", source=world["source"], contest=True).full_clean()
    now = timezone.now()
    with pytest.raises(ValidationError, match="end must be after the start"):
        Campaign(slug="y", title="y", source=world["source"], starts=now, ends=now).full_clean()


def test_side_quests_are_scheduled_for_the_next_whole_week_or_month(world):
    wednesday = datetime(2026, 12, 2, 15, 30, tzinfo=UTC)
    assert quests.next_period("week", wednesday) == (datetime(2026, 12, 7, tzinfo=UTC), datetime(2026, 12, 14, tzinfo=UTC))
    assert quests.next_period("month", wednesday) == (datetime(2027, 1, 1, tzinfo=UTC), datetime(2027, 2, 1, tzinfo=UTC))
    template = world["campaign"]
    template.features.set(world["features"][:2])
    quest = quests.schedule_side_quest(template, "week", wednesday)
    assert quest.contest and quest.slug == "tiny-1-2026-12-07" and "week of 07 Dec 2026" in quest.title
    assert set(quest.feature_queryset()) == set(world["features"][:2])
    assert quests.schedule_side_quest(template, "week", wednesday).pk == quest.pk  # once per period
    with pytest.raises(ValueError, match="weekly or monthly"):
        quests.next_period("year", wednesday)


def test_admins_schedule_side_quests_from_the_admin(world, admin_client):
    response = admin_client.post(reverse("admin:game_campaign_changelist"),
                                 {"action": "monthly_side_quest", "_selected_action": [world["campaign"].pk]},
                                 follow=True)
    assert response.status_code == 200 and "Scheduled:" in response.content.decode()
    quest = Campaign.objects.get(contest=True)
    assert quest.starts.day == 1 and quest.phase() == "upcoming"
    page = admin_client.get(reverse("admin:game_campaign_add")).content.decode()
    assert "contest" in page


def test_the_api_lists_contests_and_gives_a_board(world, contest, make_user, client):
    play(make_user("alice"), world["features"][0], contest, points_=2)
    listed = client.get("/api/contests").json()
    assert [c["slug"] for c in listed["items"]] == ["side-quest"] and listed["items"][0]["phase"] == "running"
    detail = client.get("/api/contests/side-quest").json()
    assert detail["standings"] == [{"rank": 1, "name": "alice", "country": "", "region": "", "points": 2}]
    assert detail["n_players"] == 1 and detail["best"] == []
    missing = client.get("/api/contests/nope")
    assert missing.status_code == 404 and "GET /api/contests lists them" in missing.json()["error"]
    campaigns = client.get("/api/campaigns").json()["items"]
    assert {c["slug"]: c["contest"] for c in campaigns} == {"side-quest": True, "tiny-1": False}


def test_the_how_scoring_page_gives_the_games_own_numbers(client):
    page = client.get(reverse("how-scoring")).content.decode()
    assert f"{points.POINTS[PlayEvent.Action.EXPLAIN]}, plus {points.POINTS[PlayEvent.Action.BEST]} when" in page
    assert f"{points.PER_ANSWER[PlayEvent.Action.VERSUS]} per pair" in page


def test_time_left_in_words():
    assert quests.in_words(timedelta(days=3, hours=4, minutes=5)) == "3 days 4 hours"
    assert quests.in_words(timedelta(hours=1, minutes=10)) == "1 hour 10 minutes"
    assert quests.in_words(timedelta(minutes=12, seconds=30)) == "12 minutes"
    assert quests.in_words(timedelta(seconds=20)) == "0 minutes"
    assert quests.in_words(timedelta(days=2)) == "2 days"


def test_a_new_site_gets_this_weeks_side_quest_once_per_week(world):
    thursday = datetime(2026, 12, 3, 9, 0, tzinfo=UTC)
    quest = quests.ensure_running_side_quest(world["campaign"], thursday)
    assert (quest.starts, quest.ends) == (datetime(2026, 11, 30, tzinfo=UTC), datetime(2026, 12, 7, tzinfo=UTC))
    assert quest.contest and quest.phase(thursday) == "running"
    assert set(quest.feature_queryset()) <= set(world["features"]) and quest.features.count() == 3
    assert quests.ensure_running_side_quest(world["campaign"], thursday + timedelta(days=2)).pk == quest.pk
    assert quests.ensure_running_side_quest(world["campaign"], thursday + timedelta(days=7)).pk != quest.pk


def test_play_starts_in_the_main_campaign_and_the_home_page_offers_the_newer_contest_beside_it(client, world, contest):
    """The contest is newer than the world's campaign; a new player still starts in the main campaign, in every
    mode, and the home page offers the contest next to Play now. With no other campaign running, the contest."""
    assert contest.created > world["campaign"].created
    for name in ("play", "versus", "oddone", "daily", "predict"):
        response = client.get(reverse(name))
        assert response.status_code == 302 and "/tiny-1/" in response["Location"], (name, response["Location"])
    home = client.get("/").content.decode()
    assert "in “Explain tiny layer 1”" in home
    offer = re.search(r'<p class="side-quest">(.*?)</p>', home, re.S)
    assert offer and f'href="{reverse("contest", args=[contest.slug])}"' in offer.group(1), offer
    Campaign.objects.filter(pk=world["campaign"].pk).update(active=False)
    assert "/side-quest/" in client.get(reverse("play"))["Location"]
    assert 'class="side-quest"' not in client.get("/").content.decode()  # it is where Play starts now
