"""Explanations: submit (scored at once), near-duplicates, drafts, votes, limits, reports, bans, escaping."""

from __future__ import annotations

import numpy as np
import pytest
from django.urls import reverse

from featurepedia.errors import FeaturepediaError
from featurepedia.interp import MAX_EXPLANATION_CHARS, validate_explanation
from featurepedia.web.explanations import limits, services
from featurepedia.web.explanations.duplicates import find_duplicate, plural_key
from featurepedia.web.explanations.models import Explanation, ExplanationScore, Vote
from featurepedia.web.game.models import Flag, PlayEvent

pytestmark = pytest.mark.django_db


def feature_url(f):
    return reverse("feature", args=[f.source.model.slug, f.source.slug, f.index])


def test_submit_is_scored_at_once_and_new_best_is_reported(world, make_user, client):
    cats = world["features"][0]
    alice = make_user("alice")
    client.force_login(alice)
    response = client.post(reverse("explanation-write", args=[cats.pk]), {"text": "the word cat and kittens",
                                                                          "next": feature_url(cats)}, follow=True)
    explanation = Explanation.objects.get(author=alice)
    score = explanation.scores.get()
    assert score.status == ExplanationScore.Status.OK and 0.0 <= score.value <= 1.0
    html = response.content.decode()
    assert "scored" in html and "New best!" in html and "the word cat and kittens" in html
    assert PlayEvent.objects.filter(user=alice, action="explain", points=3).exists()
    assert PlayEvent.objects.filter(user=alice, action="best", points=5).exists()
    bob = make_user("bob")
    worse = services.submit(bob, cats, "capital cities of Europe")
    assert worse.score is not None and worse.new_best == (worse.score.value > score.value)


@pytest.mark.parametrize("variant", ["The word CAT!", "the words cats", "word cat."])
def test_near_duplicates_become_an_upvote(world, make_user, no_embeddings, variant):
    cats = world["features"][0]
    alice, bob = make_user("alice"), make_user("bob")
    original = Explanation.objects.create(feature=cats, text="the word cat", author=alice)
    result = services.submit(bob, cats, variant)
    assert result.duplicate_of == original
    assert Explanation.objects.filter(feature=cats).count() == 1
    assert Vote.objects.get(user=bob).explanation == original


def test_near_duplicate_by_meaning_uses_embeddings(world, monkeypatch):
    e = Explanation(feature=world["features"][0], text="mentions of cats")
    monkeypatch.setattr("featurepedia.web.explanations.scoring.embed_texts",
                        lambda texts: np.array([[1.0, 0.0], [0.96, 0.28]], dtype=np.float32))
    assert find_duplicate([e], "references to kitty cats") == e
    monkeypatch.setattr("featurepedia.web.explanations.scoring.embed_texts",
                        lambda texts: np.array([[1.0, 0.0], [0.5, 0.866]], dtype=np.float32))
    assert find_duplicate([e], "numbers") is None
    assert plural_key("The Cities!") == plural_key("city") == "city"


def test_duplicate_message_in_the_page(world, make_user, client, no_embeddings):
    cats = world["features"][0]
    Explanation.objects.create(feature=cats, text="Cats and kittens", author=make_user("alice"))
    client.force_login(make_user("bob"))
    page = client.post(reverse("explanation-write", args=[cats.pk]), {"text": "cat and kitten"}, follow=True)
    assert "already says that" in page.content.decode() and "upvote" in page.content.decode()


def test_errors_say_what_to_fix_and_keep_the_text(world, make_user, client):
    cats = world["features"][0]
    client.force_login(make_user())
    page = client.post(reverse("explanation-write", args=[cats.pk]), {"text": "x" * 600}, follow=True)
    html = page.content.decode()
    assert "Keep it under 500 characters" in html
    assert "x" * 600 in html  # refilled, not lost
    page = client.post(reverse("explanation-write", args=[cats.pk]), {"text": "ab"}, follow=True)
    assert "at least 3 characters" in page.content.decode()


def test_a_text_the_site_stores_is_one_the_scorers_accept():
    longest = "x" * MAX_EXPLANATION_CHARS
    assert services.clean_text(longest) == validate_explanation(longest)
    assert Explanation._meta.get_field("text").max_length == MAX_EXPLANATION_CHARS
    with pytest.raises(services.ExplanationError, match=f"the limit is {MAX_EXPLANATION_CHARS}") as err:
        services.clean_text(longest + "x")
    assert isinstance(err.value, FeaturepediaError) and err.value.status == 400


def test_visitor_write_keeps_text_through_sign_in(world, client):
    cats = world["features"][0]
    response = client.post(reverse("explanation-write", args=[cats.pk]), {"text": "cats, mostly"})
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]
    assert "cats, mostly" in client.get(feature_url(cats)).content.decode()


def test_drafts_are_private_then_published(world, make_user, client, no_embeddings):
    cats = world["features"][0]
    alice = make_user()
    client.force_login(alice)
    client.post(reverse("explanation-write", args=[cats.pk]), {"text": "pets, maybe", "action": "draft"})
    draft = Explanation.objects.get(author=alice)
    assert draft.status == "draft" and not draft.scores.exists()
    assert "pets, maybe" in client.get(reverse("profile")).content.decode()
    assert client.get(feature_url(cats)).content.decode().count("pets, maybe") == 0
    client.post(reverse("draft-publish", args=[draft.pk]))
    draft.refresh_from_db()
    assert draft.status == "live" and draft.scores.get().status in ("ok", "failed")


def test_vote_change_unvote_and_own_vote(world, make_user, client):
    cats = world["features"][0]
    alice, bob = make_user("alice"), make_user("bob")
    e = Explanation.objects.create(feature=cats, text="cats", author=alice)
    assert services.cast_vote(bob, e, 1) == "new"
    assert services.cast_vote(bob, e, 1) == "same"
    assert services.cast_vote(bob, e, -1) == "changed" and Vote.objects.get().value == -1
    assert services.unvote(bob, e) and not Vote.objects.exists()
    with pytest.raises(services.ExplanationError, match="You wrote this"):
        services.cast_vote(alice, e, 1)
    client.force_login(bob)
    client.post(reverse("explanation-vote", args=[e.pk]), {"value": "1"})
    client.post(reverse("explanation-vote", args=[e.pk]), {"value": "-1"})
    client.post(reverse("explanation-vote", args=[e.pk]), {"value": "1"})
    assert sum(PlayEvent.objects.filter(user=bob).values_list("points", flat=True)) == 1  # no farming
    partial = client.post(reverse("explanation-vote", args=[e.pk]), {"value": "0"}, HTTP_HX_REQUEST="true")
    assert partial.status_code == 200 and b'id="explanations-list"' in partial.content and b"<html" not in partial.content
    assert not Vote.objects.exists()


def test_unvote_from_profile(world, make_user, client):
    e = Explanation.objects.create(feature=world["features"][0], text="cats", method="token-list")
    bob = make_user("bob")
    services.cast_vote(bob, e, 1)
    client.force_login(bob)
    page = client.get(reverse("profile")).content.decode()
    assert "Unvote" in page and "cats" in page
    client.post(reverse("explanation-vote", args=[e.pk]), {"value": "0", "next": reverse("profile")})
    assert not Vote.objects.exists()


def test_daily_limits_are_shown_and_enforced(world, make_user, client, monkeypatch):
    cats = world["features"][0]
    alice = make_user()
    client.force_login(alice)
    assert "50 of 50 left today" in client.get(feature_url(cats)).content.decode()
    monkeypatch.setattr(limits, "EXPLANATIONS_PER_DAY", 1)
    Explanation.objects.create(feature=cats, text="first", author=alice)
    with pytest.raises(services.ExplanationError, match="daily limit"):
        services.submit(alice, cats, "another idea entirely")


def test_author_shown_as_person_or_method_with_scores(world, make_user, client):
    cats = world["features"][0]
    Explanation.objects.create(feature=cats, text="by a person", author=make_user("carol"))
    auto = Explanation.objects.create(feature=cats, text="by a method", method="llm:smollm2")
    ExplanationScore.objects.create(explanation=auto, scorer="form", value=0.81, status="ok")
    ExplanationScore.objects.create(explanation=auto, scorer="simulation", value=0.33, status="ok")
    html = client.get(feature_url(cats)).content.decode()
    assert "by carol" in html and "llm:smollm2 (automatic)" in html and "score 0.81" in html
    assert "simulation" not in html  # simple mode: one score
    viewer = make_user("dave", advanced_mode=True)
    client.force_login(viewer)
    html = client.get(feature_url(cats)).content.decode()
    assert "simulation: 0.330" in html and "by people" in html
    assert "by a person" not in client.get(feature_url(cats) + "?method=auto").content.decode()


def test_report_and_ban_hide_but_keep(world, make_user, client, admin_client):
    cats = world["features"][0]
    troll = make_user("troll")
    e = Explanation.objects.create(feature=cats, text="buy cheap pills", author=troll)
    client.force_login(make_user("bob"))
    client.post(reverse("explanation-report", args=[e.pk]), {"note": "spam"})
    flag = Flag.objects.get(kind="spam")
    assert flag.explanation == e and flag.note == "spam"
    admin_client.post(reverse("admin:game_profile_changelist"),
                      {"action": "ban", "_selected_action": [troll.profile.pk]})
    troll.profile.refresh_from_db()
    assert troll.profile.banned
    assert "buy cheap pills" not in client.get(feature_url(cats)).content.decode()
    assert Explanation.objects.filter(pk=e.pk).exists()
    from django.contrib.admin.models import LogEntry
    assert LogEntry.objects.filter(change_message="banned").exists()


def test_explanation_html_renders_inert(world, make_user, client):
    cats = world["features"][0]
    Explanation.objects.create(feature=cats, text='<script>alert(1)</script><b onmouseover="x()">hi</b>',
                               author=make_user("mallory"))
    for url in [feature_url(cats), reverse("puzzle", args=["tiny-1", cats.pk]) + "?reveal=1"]:
        html = client.get(url).content.decode()
        assert "<script>alert(1)" not in html and "&lt;script&gt;alert(1)" in html
        assert '<img src=x' not in html and "<b onmouseover" not in html


def test_admin_lists_every_model(admin_client, world):
    for name in ["game_campaign", "game_profile", "game_flag", "game_playevent", "explanations_explanation",
                 "explanations_vote", "explanations_explanationscore", "catalog_feature"]:
        assert admin_client.get(reverse(f"admin:{name}_changelist")).status_code == 200, name


def test_a_score_is_said_in_words_on_the_feature_page_and_in_the_puzzle(world, client):
    from featurepedia.web.explanations.scoring import DEFAULT_SCORER

    e = Explanation.objects.create(feature=world["features"][0], text="cats and kittens", method="token-list")
    ExplanationScore.objects.create(explanation=e, scorer=DEFAULT_SCORER, value=0.8234,
                                    status=ExplanationScore.Status.OK)
    page = client.get("/tiny/1-mlp/0").content.decode()
    assert ("ranks a random place where this neuron fires above a random place where it does not 82% of the "
            "time (50% is chance)") in page
    assert "0.5 is chance, 1 is always" in page
    puzzle = client.get(f"/play/{world['campaign'].slug}/{world['features'][0].pk}?reveal=1").content.decode()
    assert "neuron fires above a random place where it does not 82% of the time" in puzzle


def test_advanced_mode_shows_each_tokens_prediction_beside_its_true_activation(world, make_user, client):
    """A score's per-token predictions (details.token_predictions) are shaded under the true activations of
    the examples it was computed on, in advanced mode only; classes a1..a20, no inline style."""
    import re

    from featurepedia.web.explanations.scoring import feature_records, score_explanation

    cats = world["features"][0]
    explanation = Explanation.objects.create(feature=cats, text="cat words", method="token-list")
    score = score_explanation(explanation)
    assert score.status == "ok" and score.details["token_predictions"]
    records = feature_records(cats).split().score
    html = client.get(feature_url(cats)).content.decode()
    assert "pred-pair" not in html  # simple mode: the score alone
    client.force_login(make_user("dave", advanced_mode=True))
    html = client.get(feature_url(cats)).content.decode()
    assert f"What form predicted on the {len(records)} examples it scored" in html
    pairs = re.findall(r'<div class="pred-pair[^"]*">(.*?)</div>\s*</div>', html, re.S)
    assert len(pairs) == len(records)
    # Each pair shows one example twice: its true values, then the stored predictions, token for token.
    for pair, record, predicted in zip(pairs, records, score.details["token_predictions"], strict=True):
        actual_row, predicted_row = pair.split('<div class="ctx pred">')
        assert re.findall(r'title="([^"]*)"', actual_row) == [f"{v:.4g}" for v in record.values]
        assert re.findall(r'title="([^"]*)"', predicted_row) == [f"predicted {p:.3g}" for p in predicted]
    strongest = max(max(p) for p in score.details["token_predictions"])
    assert f'class="a20" title="predicted {strongest:.3g}"' in html  # shaded relative to the strongest
    block = html[html.index('<details class="predictions'):]
    assert "style" not in block[:block.index("</details>")] and "<script" not in block[:block.index("</details>")]
    # Another number of examples than the score saw (the source was rebuilt): no predictions, no error.
    score.details = {**score.details, "token_predictions": score.details["token_predictions"][:-1]}
    score.save()
    html = client.get(feature_url(cats)).content.decode()
    assert "pred-pair" not in html and "cat words" in html


def test_the_puzzle_shows_the_predictions_in_advanced_mode_once_the_explanations_are_shown(world, make_user, client):
    from featurepedia.web.explanations.scoring import feature_records, score_explanation

    cats = world["features"][0]
    score_explanation(Explanation.objects.create(feature=cats, text="cat words", method="token-list"))
    url = reverse("puzzle", args=["tiny-1", cats.pk])
    client.force_login(make_user("erin"))
    assert "pred-pair" not in client.get(url + "?reveal=1").content.decode()
    client.force_login(make_user("dave", advanced_mode=True))
    html = client.get(url + "?reveal=1").content.decode()
    n = len(feature_records(cats).split().score)
    assert f"What form predicted on the {n} examples it scored" in html and html.count('<div class="ctx pred">') == n
