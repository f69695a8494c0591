"""The daily puzzle: one feature per campaign and day, stable all day, other days differ; the shared text;
one play per visitor per day; points and a daily streak for players."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from django.test import Client
from django.urls import reverse

from featurepedia.web.explanations.models import Explanation
from featurepedia.web.game import daily as days
from featurepedia.web.game.models import Campaign, DailyPuzzle, PlayEvent, Prediction
from featurepedia.web.game.predict import load_texts
from featurepedia.web.game.predictions import Player, save_prediction

pytestmark = pytest.mark.django_db
DAY = date(2026, 3, 14)


@pytest.fixture
def explained(world):
    for f in world["features"]:
        Explanation.objects.create(feature=f, text=f"words about topic {f.index}",
                                   method="token-list")
    return world


def test_the_daily_is_stable_for_a_date_and_changes_across_dates(explained):
    camp = explained["campaign"]
    first = days.daily_for(camp, DAY)
    assert first is not None and days.daily_for(camp, DAY).pk == first.pk
    # Stable even when what could be chosen changes during the day (a new explanation, a feature dropped).
    Explanation.objects.create(feature=explained["features"][0], text="something else", method="human")
    Explanation.objects.filter(feature=first.feature).update(status="hidden")
    assert days.daily_for(camp, DAY).feature_id == first.feature_id
    Explanation.objects.filter(feature=first.feature).update(status="live")
    # The choice is a function of date and campaign: made again from scratch, the same feature.
    DailyPuzzle.objects.all().delete()
    assert days.choose(camp, DAY).feature.pk == first.feature_id
    picks = [days.daily_for(camp, DAY + timedelta(days=n)).feature_id for n in range(6)]
    assert all(a != b for a, b in zip(picks, picks[1:], strict=False))  # never the same two days running
    assert set(picks) == {f.pk for f in explained["features"]}  # recent ones wait their turn
    other = Campaign.objects.create(slug="other", title="Other", source=explained["source"])
    assert len({days.choose(other, DAY + timedelta(days=n)).feature.pk for n in range(8)}) > 1


def test_only_features_with_examples_and_an_explanation_qualify(world):
    camp = world["campaign"]
    assert days.daily_for(camp, DAY) is None  # nothing explained yet
    cats = world["features"][0]
    Explanation.objects.create(feature=cats, text="cats", method="token-list")
    assert days.eligible_features(camp) == [cats.pk]
    cats.examples.filter(bin="negative").delete()
    assert days.eligible_features(camp) == []


def test_the_share_text_is_a_grid_with_the_number_date_and_address(explained, make_user):
    camp = explained["campaign"]
    days.daily_for(camp, DAY - timedelta(days=1))
    daily = days.daily_for(camp, DAY)
    texts = load_texts(daily.feature, daily.texts)
    marks = [[10.0 * v for v in t.truth] if t.activating else [10.0] * len(t.tokens) for t in texts]
    saved = save_prediction(daily.explanation, texts, marks, Player(make_user(), ""), campaign=camp, daily=daily)
    grid = "".join("🟩" if t.activating else "⬜" for t in texts)
    text = days.share_text(daily, saved.prediction, "https://fp.example/daily/tiny-1/")
    assert text == (f"Featurepedia daily #2 · 2026-03-14\n{grid} r = {saved.prediction.score:.2f}\n"
                    "https://fp.example/daily/tiny-1/")
    assert "⬜" in grid and "🟩" in grid


def _answer(client, page):
    """Post an answer to the daily page's form: the first token of every text marked."""
    context = page.context
    data = {"texts": context["fingerprint"], "date": context["daily"].date.isoformat()}
    for t in context["texts"]:
        data[f"m{t.number}"] = ["0"]
    return client.post(reverse("daily-answer", args=["tiny-1"]), data, follow=True)


def test_a_new_visitor_plays_once_a_day_and_gets_a_text_to_share(explained, client):
    home = client.get("/").content.decode()
    assert reverse("daily") in home
    page = client.get(reverse("daily"), follow=True)
    html = page.content.decode()
    assert page.status_code == 200 and "Daily puzzle #1" in html and 'type="checkbox"' in html
    assert "Check my guess" in html and 'style="' not in html
    result = _answer(client, page).content.decode()
    prediction = Prediction.objects.get()
    assert prediction.daily is not None and prediction.user is None and prediction.visitor
    assert "Featurepedia daily #1 · " in result and "http://testserver/daily/tiny-1/" in result
    assert "Sign up to earn points" in result and 'data-copy="share-text"' in result
    again = client.get(reverse("daily-campaign", args=["tiny-1"]))
    assert "Share your result" in again.content.decode() and "Check my guess" not in again.content.decode()
    replay = _answer(client, page)
    assert "come back tomorrow" in replay.content.decode() and Prediction.objects.count() == 1
    stranger = Client()  # another visitor plays the same puzzle
    _answer(stranger, stranger.get(reverse("daily-campaign", args=["tiny-1"])))
    assert Prediction.objects.count() == 2 and len({p.daily_id for p in Prediction.objects.all()}) == 1


def test_a_signed_in_player_earns_points_and_a_daily_streak(explained, client, make_user):
    player = make_user("daily")
    camp = explained["campaign"]
    yesterday = days.daily_for(camp, days.today() - timedelta(days=1))
    texts = load_texts(yesterday.feature, yesterday.texts)
    save_prediction(yesterday.explanation, texts, [[0.0] * len(t.tokens) for t in texts], Player(player, ""),
                    daily=yesterday)
    client.force_login(player)
    page = client.get(reverse("daily-campaign", args=["tiny-1"]))
    assert "1-day daily streak" in page.content.decode()
    result = _answer(client, page).content.decode()
    assert "Done! +" in result and "2-day daily streak" in result
    assert days.daily_streak(player) == 2
    assert PlayEvent.objects.filter(user=player, action="daily").count() == 2
    assert "already" not in result


def test_a_stale_date_is_refused(explained, client):
    page = client.get(reverse("daily-campaign", args=["tiny-1"]))
    data = {"texts": page.context["fingerprint"], "date": "2001-01-01"}
    refused = client.post(reverse("daily-answer", args=["tiny-1"]), data, follow=True)
    assert "puzzle started since you opened" in refused.content.decode() and not Prediction.objects.exists()
