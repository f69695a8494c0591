"""Odd-one-out on the site: rounds, a visitor's and a player's flows, durable answers, one answer per
feature, and the consistency measure telling a planted polysemantic feature from a monosemantic one."""

from __future__ import annotations

import random
import re
from collections import Counter

import pytest
from django.urls import reverse

from featurepedia.web.game import oddone, oddone_views, points
from featurepedia.web.game.models import Flag, OddOneAnswer, OddOneRound, PlayEvent
from featurepedia.web.game.players import AnswerError, Player
from tests.web.conftest import TOPICS, make_feature

pytestmark = pytest.mark.django_db

TOPIC_OF = {w: topic for topic, words in TOPICS.items() for w in words}
MIXED = ["cat", "42", "Paris", "kitten", "1999", "London"]  # the planted polysemantic feature's clues


def round_of(client, campaign="tiny-1"):
    html = client.get(reverse("oddone-play", args=[campaign]), follow=True).content.decode()
    round_id = int(re.search(r"/odd-one-out/[\w-]+/(\d+)/answer", html).group(1))
    return html, OddOneRound.objects.get(pk=round_id)


def test_a_round_is_three_clues_and_one_intruder(world):
    cats = world["features"][0]
    seen = Counter()
    for seed in range(12):
        r = oddone.make_round(cats, random.Random(seed))
        assert len(r.snippets) == oddone.SNIPPETS and 0 <= r.odd < oddone.SNIPPETS
        marked = [s["tokens"][s["mark"]].strip() for s in r.snippets]
        clues = [m for i, m in enumerate(marked) if i != r.odd]
        assert all(TOPIC_OF.get(m) == 0 for m in clues)  # where the cat feature fires
        assert TOPIC_OF.get(marked[r.odd]) != 0  # a filler word, or a number or city of another feature
        assert all(len(s["tokens"]) <= 2 * oddone.RADIUS + 1 and "<s>" not in s["tokens"] for s in r.snippets)
        seen[r.intruder] += 1
    assert set(seen) == {"not-firing", "other-feature"}


def test_a_visitor_answers_sees_the_reveal_and_is_credited_at_sign_up(world, client):
    html, r = round_of(client)
    assert "Which one is the odd one out?" in html and html.count('name="pick"') == oddone.SNIPPETS + 2
    assert "They are all alike" in html and "<script>alert" not in html
    assert f"/{r.feature.index}\"" not in html  # which feature it is stays hidden until answered
    assert round_of(client)[1] == r  # a reload shows the same round
    page = client.post(reverse("oddone-answer", args=["tiny-1", r.pk]), {"pick": r.odd}, follow=True)
    text = page.content.decode()
    assert "You found it!" in text and "Sign up to keep" in text and "Next" in text
    assert f"neuron {r.feature.index} of tiny / 1-mlp" in text
    row = OddOneAnswer.objects.get()
    assert row.user is None and row.visitor and row.found and row.feature == r.feature
    again = client.post(reverse("oddone-answer", args=["tiny-1", r.pk]), {"pick": 0}, follow=True).content.decode()
    assert "already answered" in again and OddOneAnswer.objects.count() == 1  # one answer per feature
    _, second = round_of(client)
    assert second.feature != r.feature
    client.post(reverse("oddone-answer", args=["tiny-1", second.pk]), {"pick": "alike"})

    client.post(reverse("account_signup"), {"email": "odd@example.org", "password1": "a-long-pass-phrase"})
    user = OddOneAnswer.objects.first().user
    assert user is not None and not OddOneAnswer.objects.filter(user=None).exists()
    assert points.total(user) == points.odd_one_points(True) + points.odd_one_points(False)


def test_a_player_earns_more_for_finding_it_and_skipping_earns_nothing(world, client, make_user):
    alice = make_user("alice")
    client.force_login(alice)
    _, r = round_of(client)
    client.post(reverse("oddone-answer", args=["tiny-1", r.pk]), {"pick": "skip"})
    assert not OddOneAnswer.objects.exists() and points.total(alice) == 0
    _, r2 = round_of(client)
    assert r2.feature != r.feature  # skipped for the session
    wrong = (r2.odd + 1) % oddone.SNIPPETS
    page = client.post(reverse("oddone-answer", args=["tiny-1", r2.pk]), {"pick": wrong}, follow=True).content.decode()
    assert "Not that one" in page and f"Snippet {r2.odd + 1} was" in page
    assert points.total(alice) == points.PER_ANSWER[PlayEvent.Action.ODD_ONE]
    _, r3 = round_of(client)
    client.post(reverse("oddone-answer", args=["tiny-1", r3.pk]), {"pick": r3.odd})
    assert points.total(alice) == 1 + points.odd_one_points(True)
    with pytest.raises(AnswerError, match="Pick one of the 4"):
        oddone.answer(Player(user=alice), r, 7)
    assert "No odd one out left" in client.get(reverse("oddone-play", args=["tiny-1"])).content.decode()


@pytest.mark.django_db(transaction=True)
def test_an_answer_is_committed_before_the_response(world, client, monkeypatch):
    _, r = round_of(client)

    def crash(*args, **kwargs):
        raise RuntimeError("the process died")

    monkeypatch.setattr(oddone_views, "redirect", crash)
    with pytest.raises(RuntimeError):
        client.post(reverse("oddone-answer", args=["tiny-1", r.pk]), {"pick": r.odd})
    assert OddOneAnswer.objects.filter(round=r).count() == 1


def simulated_pick(r: OddOneRound, rng: random.Random, lapse: float = 0.1) -> int | None:
    """A model of a player: they read each snippet's marked word as a topic and pick the snippet whose topic
    no other shares; with no such single one they say "alike" or guess, and now and then they slip."""
    if rng.random() < lapse:
        return rng.randrange(len(r.snippets))
    topics = [TOPIC_OF.get(s["tokens"][s["mark"]].strip(), "filler") for s in r.snippets]
    counts = Counter(topics)
    lonely = [i for i, t in enumerate(topics) if counts[t] == 1]
    if len(lonely) == 1:
        return lonely[0]
    return None if rng.random() < 0.5 else rng.randrange(len(r.snippets))


def test_a_planted_polysemantic_feature_is_less_consistent_and_gets_flagged(world):
    mono = world["features"][0]
    poly = make_feature(world["source"], 3, MIXED)
    rng = random.Random(5)
    for v in range(20):
        player = Player(visitor=f"sim{v}")
        for feature in (mono, poly):
            r = oddone.round_for(feature, player, rng=rng)
            oddone.answer(player, r, simulated_pick(r, rng))
    c_mono, c_poly = oddone.consistency(mono), oddone.consistency(poly)
    assert c_mono.answers == c_poly.answers == 20
    assert c_poly.value < c_mono.value and c_poly.high < c_mono.low  # apart, beyond their 90% intervals
    assert c_mono.value > 0.7 and c_poly.value < 0.4
    assert OddOneRound.objects.filter(feature=poly).count() == oddone.ROUNDS_PER_FEATURE  # rounds are shared
    flag = Flag.objects.get(feature=poly)
    assert flag.user is None and flag.kind == "polysemantic" and flag.note.startswith("odd-one-out")
    assert c_poly.flagged and not c_mono.flagged and not Flag.objects.filter(feature=mono).exists()
    Flag.objects.filter(pk=flag.pk).update(resolved=True)  # an admin looked at it
    late = Player(visitor="late")
    oddone.answer(late, oddone.round_for(poly, late, rng=rng), None)
    flag.refresh_from_db()
    assert flag.resolved and "from 21 answers" in flag.note and not oddone.consistency(poly).flagged


def test_the_measure_and_the_flag_rule():
    assert oddone.measure(0, 0, 0.25) == (None, None, None)
    value, low, high = oddone.measure(10, 10, 0.25)
    assert low < value < high <= 1 and value > 0.85
    chance, low, _ = oddone.measure(5, 20, 0.25)  # found at the chance rate
    assert chance < 0.1 and low == 0.0
    few = oddone.Consistency(5, 0, *oddone.measure(0, 5, 0.25))
    assert not few.polysemantic  # too few answers to judge
    many = oddone.Consistency(12, 2, *oddone.measure(2, 12, 0.25))
    assert many.polysemantic and not many.consistent


def test_the_feature_page_shows_the_consistency(world, client):
    cats = world["features"][0]
    r = oddone.round_for(cats, Player(visitor="a"), rng=random.Random(0))
    for v in range(3):
        oddone.answer(Player(visitor=f"v{v}"), r, r.odd if v else None)
    page = client.get(reverse("feature", args=["tiny", "1-mlp", cats.index])).content.decode()
    c = oddone.consistency(cats)
    assert f"Consistency {c.value:.2f}" in page and "from 3 answers; 2 found the intruder" in page
    assert "Play Odd one out" in page
