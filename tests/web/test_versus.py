"""This-vs-That on the site: a visitor's and a player's flows, durable answers, one answer per pair, the
pair rule, and the ranking taking over the best explanation from 20 comparisons on."""

from __future__ import annotations

import random
import re

import numpy as np
import pytest
from django.urls import reverse

from featurepedia.web.explanations.models import Explanation, ExplanationScore
from featurepedia.web.explanations.services import best_explanations, visible
from featurepedia.web.game import points, versus, versus_views
from featurepedia.web.game.models import Comparison, PlayEvent
from featurepedia.web.game.players import AnswerError, Player

pytestmark = pytest.mark.django_db


def explain(feature, text, score=None, **kw):
    e = Explanation.objects.create(feature=feature, text=text, method=kw.pop("method", f"m:{text}"), **kw)
    if score is not None:
        ExplanationScore.objects.create(explanation=e, scorer="form", value=score, status="ok")
    return e


@pytest.fixture
def cats(world):
    """The cats feature with three explanations; only it can be compared."""
    feature = world["features"][0]
    return feature, [explain(feature, "the word cat", 0.9), explain(feature, "pets and cats", 0.88),
                     explain(feature, "the letter t", 0.5)]


def shown_pair(html: str) -> tuple[int, int]:
    a = int(re.search(r'name="a" value="(\d+)"', html).group(1))
    b = int(re.search(r'name="b" value="(\d+)"', html).group(1))
    return a, b


def test_a_visitor_compares_then_signs_up_and_is_credited(cats, client):
    feature, explanations = cats
    page = client.get(reverse("versus"), follow=True)
    html = page.content.decode()
    assert page.status_code == 200 and "Which explanation fits better?" in html and "Both bad" in html
    assert html.count('class="ctx"') >= 4 and "&lt;script&gt;" in html  # clues, escaped
    assert "0.88" not in html  # scores are hidden: people judge on their own
    a, b = shown_pair(html)
    assert {a, b} <= {e.pk for e in explanations}
    answer = reverse("versus-answer", args=["tiny-1"])
    after = client.post(answer, {"a": a, "b": b, "better": b}, follow=True).content.decode()
    assert "You said" in after and "first to compare" in after and "Sign up to keep" in after
    row = Comparison.objects.get()
    assert row.user is None and len(row.visitor) == 32 and row.first_id == min(a, b)
    assert row.choice == ("second" if b > a else "first")
    again = client.post(answer, {"a": a, "b": b, "better": "both-bad"}, follow=True).content.decode()
    assert "already compared" in again and Comparison.objects.count() == 1  # one answer per pair
    c, d = shown_pair(again)
    assert {c, d} != {a, b}  # the next pair is another one
    client.post(answer, {"a": c, "b": d, "better": "both-bad"})

    signup = client.post(reverse("account_signup"), {"email": "new@example.org", "password1": "a-long-pass-phrase"},
                         follow=True)
    assert "now yours" in signup.content.decode()
    user = Comparison.objects.first().user
    assert user is not None and set(Comparison.objects.values_list("user", "visitor")) == {(user.pk, "")}
    assert points.total(user) == 2 * points.PER_ANSWER[PlayEvent.Action.VERSUS]
    left = client.get(reverse("versus-play", args=["tiny-1"])).content.decode()
    assert set(shown_pair(left)) not in ({a, b}, {c, d})  # their answers still count as theirs


def test_a_player_earns_per_pair_skips_earn_nothing_and_never_judges_their_own(cats, client, make_user):
    feature, explanations = cats
    alice = make_user("alice")
    mine = explain(feature, "kittens, written by alice", method="human", author=alice)
    client.force_login(alice)
    answer = reverse("versus-answer", args=["tiny-1"])
    seen = set()
    for _ in range(3):  # the three pairs without her own explanation
        a, b = shown_pair(client.get(reverse("versus-play", args=["tiny-1"])).content.decode())
        assert mine.pk not in (a, b)
        seen.add(frozenset((a, b)))
        client.post(answer, {"a": a, "b": b, "better": "skip"})
    assert len(seen) == 3 and not Comparison.objects.exists() and points.total(alice) == 0
    assert "Nothing left to compare" in client.get(reverse("versus-play", args=["tiny-1"])).content.decode()
    with pytest.raises(AnswerError, match="You wrote one"):
        versus.record(Player(user=alice), mine.pk, explanations[0].pk, mine.pk)

    client.logout()
    bob = make_user("bob")
    client.force_login(bob)
    a, b = shown_pair(client.get(reverse("versus-play", args=["tiny-1"])).content.decode())
    page = client.post(answer, {"a": a, "b": b, "better": a}, follow=True).content.decode()
    assert "+1 point" in page and points.total(bob) == 1
    assert PlayEvent.objects.get(user=bob).explanation_id == a


@pytest.mark.django_db(transaction=True)
def test_an_answer_is_committed_before_the_response(cats, client, monkeypatch):
    """A crash after the write (here: while composing the reply) leaves the answer stored."""
    a, b = shown_pair(client.get(reverse("versus-play", args=["tiny-1"])).content.decode())

    def crash(*args, **kwargs):
        raise RuntimeError("the process died")

    monkeypatch.setattr(versus_views.versus, "outcome_message", crash)
    with pytest.raises(RuntimeError):
        client.post(reverse("versus-answer", args=["tiny-1"]), {"a": a, "b": b, "better": a})
    assert Comparison.objects.filter(first_id=min(a, b), second_id=max(a, b)).count() == 1


def test_bad_answers_are_refused_and_store_nothing(cats, world, client):
    _, (e1, e2, _) = cats
    other = explain(world["features"][1], "numbers")
    answer = reverse("versus-answer", args=["tiny-1"])
    for data, said in [({"a": e1.pk, "b": other.pk, "better": e1.pk}, "different features"),
                       ({"a": e1.pk, "b": e2.pk, "better": other.pk}, "must be one of the two"),
                       ({"a": e1.pk, "b": e1.pk, "better": e1.pk}, "two different"),
                       ({"a": "x", "b": e2.pk, "better": e2.pk}, "named no pair"),
                       ({"a": e1.pk, "b": e2.pk, "better": "maybe"}, "Choose A, B")]:
        assert said in client.post(answer, data, follow=True).content.decode()
    assert not Comparison.objects.exists()


def test_pairs_are_close_in_rating_and_little_compared(cats):
    feature, (best, close, far) = cats
    fr = versus.feature_ranking(feature)
    first = versus.choose_pair(fr, Player(visitor="me"), rng=random.Random(0))
    assert {e.pk for e in first} == {best.pk, close.pk}  # closest in rating (0.9 against 0.88)
    for i in range(6):  # others compare that pair, split evenly: still close, but now well covered
        versus.record(Player(visitor=f"v{i}"), best.pk, close.pk, (best.pk, close.pk)[i % 2])
    after = versus.choose_pair(versus.feature_ranking(feature), Player(visitor="me"), rng=random.Random(0))
    assert {e.pk for e in after} != {best.pk, close.pk}


def test_the_ranking_decides_the_best_explanation_from_20_comparisons(cats, client):
    feature, (by_score, uncompared, underdog) = cats
    Explanation.objects.filter(pk=uncompared.pk).update(status="hidden")  # two in the race: the order is clear
    assert best_explanations([feature.pk])[feature.pk] == by_score  # the best automatic score, as before
    for i in range(versus.MIN_COMPARISONS - 1):  # people keep preferring the low-scored one
        versus.record(Player(visitor=f"v{i}"), by_score.pk, underdog.pk, underdog.pk)
    fr = versus.feature_ranking(feature)
    assert not fr.settled and fr.rated[0].explanation == underdog  # the ranking already says so ...
    assert best_explanations([feature.pk])[feature.pk] == by_score  # ... but does not decide yet
    versus.record(Player(visitor="last"), by_score.pk, underdog.pk, underdog.pk)
    assert best_explanations([feature.pk])[feature.pk] == underdog
    assert list(visible(feature))[0] == underdog

    page = client.get(reverse("feature", args=["tiny", "1-mlp", feature.index])).content.decode()
    assert "20 people compared its explanations (20 comparisons)" in page
    assert "This ranking now decides its best explanation" in page
    row = versus.feature_ranking(feature).get(underdog.pk)
    assert f"{row.rating:.2f}" in page and f"± {row.sd:.2f}" in page
    listed = client.get("/api/models/tiny/sources/1-mlp/features?limit=5").json()["items"][0]
    assert listed["best_explanation"]["id"] == underdog.pk


def test_simulated_players_rank_explanations_in_their_true_order(world):
    """Visitors choosing by Bradley–Terry from known qualities: the site's ranking recovers the order."""
    feature = world["features"][2]
    quality = [1.8, 0.6, -0.6, -1.8]
    explanations = [explain(feature, f"cities, take {i}", 0.7) for i in range(4)]  # equal scores: no hint
    rng = np.random.default_rng(11)
    for v in range(30):
        player = Player(visitor=f"sim{v}")
        for _ in range(3):
            fr = versus.feature_ranking(feature)
            pair = versus.choose_pair(fr, player, rng=random.Random(v))
            if pair is None:
                break
            i, j = (explanations.index(e) for e in pair)
            p = 1 / (1 + np.exp(quality[j] - quality[i]))
            versus.record(player, pair[0].pk, pair[1].pk, pair[0].pk if rng.random() < p else pair[1].pk)
    fr = versus.feature_ranking(feature)
    assert fr.comparisons == 90 and fr.people == 30
    assert [r.explanation for r in fr.rated] == explanations


def test_one_explanation_ranker_at_most():
    from featurepedia.web.explanations.services import register_ranker

    with pytest.raises(ValueError, match="already registered"):
        register_ranker("another", lambda feature_ids: {})
