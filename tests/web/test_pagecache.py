"""Cached parts of feature and puzzle pages: the same for everyone with the same filters, never stale."""

from __future__ import annotations

import re

from django.urls import reverse

from featurepedia.web.explanations.models import Explanation
from featurepedia.web.explanations.services import cast_vote


def _page(client, feature, **query) -> str:
    return client.get(reverse("feature", args=["tiny", "1-mlp", feature.index]), query).content.decode()


def test_a_rebuild_of_the_source_shows_at_once(client, world):
    cats = world["features"][0]
    assert "kitten" in _page(client, cats)
    example = cats.examples.get(bin="top", rank=2)
    example.tokens = [t.replace("kitten", "lion") for t in example.tokens]
    example.save()
    assert "kitten" in _page(client, cats)  # cached: examples change only when the source is rebuilt
    world["source"].save()  # what a build or an import does when it finishes
    html = _page(client, cats)
    assert "lion" in html and "kitten" not in html


def test_explanations_votes_and_scores_are_never_served_stale(client, world, make_user):
    cats = world["features"][0]
    assert "small furry pets" not in _page(client, cats)
    e = Explanation.objects.create(feature=cats, text="small furry pets", method="human")
    assert "small furry pets" in _page(client, cats)
    cast_vote(make_user("bob"), e, 1)
    assert "▲ 1" in _page(client, cats)
    e.delete()
    assert "small furry pets" not in _page(client, cats)


def test_quantile_groups_load_when_opened_and_without_scripts(client, world):
    cats = world["features"][0]
    html = _page(client, cats)
    group_url = reverse("feature-group", args=["tiny", "1-mlp", cats.index, "q1"])
    assert f'hx-get="{group_url}"' in html and 'href="?groups=all#g-q1"' in html
    assert html.count('<li class="ctx">') == 6  # the top group only
    items = client.get(group_url).content.decode()
    assert items.count('<li class="ctx">') == 3 and "cats" in items
    assert _page(client, cats, groups="all").count('<li class="ctx">') == 6 + 3 + 4
    assert client.get(reverse("feature-group", args=["tiny", "1-mlp", cats.index, "q9"])).status_code == 404


def test_the_explicit_filter_has_its_own_cached_clues(client, world, make_user):
    numbers = world["features"][1]
    assert "fucking" in _page(client, numbers)
    client.force_login(make_user("carol", explicit_filter=True))
    html = _page(client, numbers)
    assert "fucking" not in html and "explicit words hidden" in html
    client.logout()
    assert "fucking" in _page(client, numbers)


def _judged(html: str) -> str:
    return re.search(r'<section class="judgements".*?</section>', html, re.S).group(0)


def test_judgements_show_each_new_comparison_and_score(client, world, make_user):
    from featurepedia.web.explanations.models import ExplanationScore
    from featurepedia.web.explanations.scoring import DEFAULT_SCORER
    from featurepedia.web.game.models import Comparison

    cats = world["features"][0]
    first = Explanation.objects.create(feature=cats, text="cats", method="human")
    second = Explanation.objects.create(feature=cats, text="pets", method="human")
    assert "Nobody has compared its explanations yet" in _page(client, cats)
    Comparison.objects.create(user=make_user("dan"), feature=cats, first=first, second=second, choice="first")
    assert "1 person compared its explanations (1 comparison)" in _page(client, cats)
    Comparison.objects.create(user=make_user("eve"), feature=cats, first=first, second=second, choice="second")
    assert "2 people compared its explanations (2 comparisons)" in _page(client, cats)
    before = _judged(_page(client, cats))
    ExplanationScore.objects.create(explanation=second, scorer=DEFAULT_SCORER, version="1", status="ok", value=0.99)
    assert _judged(_page(client, cats)) != before  # the score moves the ratings


def test_the_puzzle_clues_are_cached_until_a_rebuild(client, world):
    cats, campaign = world["features"][0], world["campaign"]
    url = reverse("puzzle", args=[campaign.slug, cats.pk])
    assert "kitten" in client.get(url).content.decode()
    cats.examples.filter(rank=2).exclude(bin="negative").update(tokens=["<s>", " lion"], values=[0.0, 1.0])
    assert "kitten" in client.get(url).content.decode()
    world["source"].save()
    html = client.get(url).content.decode()
    assert "lion" in html and "kitten" not in html


def test_a_shared_page_carries_each_visitors_own_working_csrf_token(world):
    from django.test import Client

    cats = world["features"][0]
    Client().get(reverse("feature", args=["tiny", "1-mlp", cats.index]))  # the page is now in the cache
    visitor = Client(enforce_csrf_checks=True)
    html = _page(visitor, cats)
    tokens = set(re.findall(r'name="csrfmiddlewaretoken" value="([^"]+)"', html))
    assert tokens and "\x00" not in html and "csrftoken" in visitor.cookies
    action = re.search(r'<form method="post" action="([^"]+)"', html).group(1)
    sent = visitor.post(action, {"csrfmiddlewaretoken": tokens.pop(), "text": "cats and kittens"})
    assert sent.status_code != 403  # the token matches this visitor's cookie
    assert visitor.post(action, {"csrfmiddlewaretoken": "x" * 64, "text": "cats"}).status_code == 403


def test_a_campaign_that_ends_or_starts_leaves_or_joins_the_shared_page(client, world):
    from datetime import timedelta

    from django.utils import timezone

    from featurepedia.web.game.models import Campaign

    cats, campaign = world["features"][0], world["campaign"]
    assert campaign.title in _page(client, cats)
    campaign.ends = timezone.now() - timedelta(seconds=1)
    campaign.save()
    assert campaign.title not in _page(client, cats)
    Campaign.objects.create(slug="later", title="Starts in a moment", source=world["source"],
                            starts=timezone.now() + timedelta(seconds=1))
    assert "Starts in a moment" not in _page(client, cats)
    Campaign.objects.filter(slug="later").update(starts=timezone.now() - timedelta(seconds=1))
    assert "Starts in a moment" in _page(client, cats)


def _tokens_out(html: str) -> str:
    return re.sub(r'(csrfmiddlewaretoken" value="|"X-CSRFToken": ")[A-Za-z0-9]+', r"\1T", html)


def test_a_first_time_visitor_gets_the_shared_page_without_rendering_identity_or_gzip(world):
    import gzip

    from django.test import Client

    cats = world["features"][0]
    url = reverse("feature", args=["tiny", "1-mlp", cats.index])
    first = Client().get(url)
    assert first.templates  # rendered, and now kept
    again = Client().get(url)
    assert not again.templates and again.status_code == 200  # straight from the cache: no template rendered
    assert _tokens_out(again.content.decode()) == _tokens_out(first.content.decode())
    assert again["Content-Security-Policy"] == first["Content-Security-Policy"] and again["X-Frame-Options"] == "DENY"
    packed = Client().get(url, HTTP_ACCEPT_ENCODING="gzip, deflate, br")
    assert packed["Content-Encoding"] == "gzip" and "Accept-Encoding" in packed["Vary"]
    assert int(packed["Content-Length"]) == len(packed.content) < len(first.content) / 2
    assert _tokens_out(gzip.decompress(packed.content).decode()) == _tokens_out(first.content.decode())
    assert not packed.templates


def test_htmx_requests_from_a_shared_page_carry_the_visitors_own_token(world):
    import json

    from django.test import Client

    cats = world["features"][0]
    Client().get(reverse("feature", args=["tiny", "1-mlp", cats.index]))
    visitor = Client(enforce_csrf_checks=True)
    html = _page(visitor, cats)
    header = json.loads(re.search(r"hx-headers='([^']+)'", html).group(1))["X-CSRFToken"]
    action = re.search(r'<form method="post" action="([^"]+)"', html).group(1)
    assert visitor.post(action, {"text": "cats and kittens"}, HTTP_X_CSRFTOKEN=header).status_code != 403


def test_a_ban_or_a_new_display_name_shows_at_once_on_the_shared_page(world, make_user):
    from django.test import Client

    cats = world["features"][0]
    alice = make_user("alice")
    Explanation.objects.create(feature=cats, text="small furry pets", method="human", author=alice)
    assert "by alice" in _page(Client(), cats)
    alice.profile.display_name = "Whiskers"
    alice.profile.save()
    assert "by Whiskers" in _page(Client(), cats)
    alice.profile.banned = True
    alice.profile.save(update_fields=["banned"])  # as the admin's ban action does
    assert "small furry pets" not in _page(Client(), cats)


def test_visitors_with_a_session_or_a_notice_never_get_the_shared_page(world, client):
    from django.test import Client

    numbers = world["features"][1]
    assert "fucking" in _page(Client(), numbers)  # kept as every first-time visitor's page
    client.post(reverse("onboarding"), {"explicit_filter": "on"})  # a visitor's preference, in their session
    assert "fucking" not in _page(client, numbers)
    noticed = Client()
    noticed.cookies["messages"] = "x"
    assert noticed.get(reverse("feature", args=["tiny", "1-mlp", numbers.index])).templates


def test_the_api_feature_read_is_cached_compressed_and_never_stale(client, world, make_user):
    import gzip
    import json

    cats = world["features"][0]
    url = f"/api/feature/tiny/1-mlp/{cats.index}"
    assert client.get(url).json()["explanations"] == []
    e = Explanation.objects.create(feature=cats, text="small furry pets", method="human", author=make_user("alice"))
    assert [x["description"] for x in client.get(url).json()["explanations"]] == ["small furry pets"]
    cast_vote(make_user("bob"), e, 1)
    assert client.get(url).json()["explanations"][0]["ups"] == 1
    e.author.profile.display_name = "Whiskers"
    e.author.profile.save()
    packed = client.get(url, HTTP_ACCEPT_ENCODING="gzip")
    assert packed["Content-Encoding"] == "gzip" and packed["Content-Type"].startswith("application/json")
    assert json.loads(gzip.decompress(packed.content))["explanations"][0]["author"] == "Whiskers"
    world["source"].save()
    assert client.get(url).json() == json.loads(gzip.decompress(packed.content))  # a rebuild: rendered again, same


def test_a_visitors_puzzle_shows_each_new_explanation_vote_ban_and_the_progress_at_once(client, world, make_user):
    from featurepedia.web.catalog.models import Feature

    cats, campaign = world["features"][0], world["campaign"]
    url = reverse("puzzle", args=[campaign.slug, cats.pk]) + "?reveal=1"
    explained = Feature.objects.filter(source=world["source"], explanations__status="live").distinct().count()
    html = client.get(url).content.decode()
    assert "small furry pets" not in html and f"{explained} of " in html
    other = world["features"][-1]
    Explanation.objects.filter(feature=other).delete()
    alice = make_user("alice")
    Explanation.objects.create(feature=other, text="something", method="human", author=alice)
    e = Explanation.objects.create(feature=cats, text="small furry pets", method="human", author=alice)
    html = client.get(url).content.decode()
    now = Feature.objects.filter(source=world["source"], explanations__status="live").distinct().count()
    assert "small furry pets" in html and f"{now} of " in html and now != explained
    cast_vote(make_user("bob"), e, 1)
    assert re.search(r"small furry pets.*?▲ 1", client.get(url).content.decode(), re.S)
    alice.profile.banned = True
    alice.profile.save(update_fields=["banned"])
    assert "small furry pets" not in client.get(url).content.decode()


def test_an_upgrade_of_templates_or_static_files_is_never_served_an_old_page(client, world, monkeypatch):
    # Pages cached by the old code may outlive it (Redis): the keys carry a digest of the markup's sources.
    from featurepedia.web.catalog import pagecache

    cats, campaign = world["features"][0], world["campaign"]
    url = reverse("puzzle", args=[campaign.slug, cats.pk])
    assert "kitten" in client.get(url).content.decode()
    cats.examples.filter(rank=2).exclude(bin="negative").update(tokens=["<s>", " lion"], values=[0.0, 1.0])
    assert "kitten" in client.get(url).content.decode()  # cached: same code, same stamps
    monkeypatch.setattr(pagecache, "code_stamp", lambda: "a-new-release")
    assert "lion" in client.get(url).content.decode()


def test_the_code_stamp_follows_the_templates_and_static_files(tmp_path):
    from featurepedia.web.catalog.pagecache import files_digest

    (tmp_path / "game" / "templates" / "game").mkdir(parents=True)
    (tmp_path / "static").mkdir()
    page, style = tmp_path / "game" / "templates" / "game" / "puzzle.html", tmp_path / "static" / "site.css"
    page.write_text("<p>{{ clue }}</p>")
    style.write_text("p { color: red }")
    first = files_digest(tmp_path, "0.1.0")
    assert files_digest(tmp_path, "0.1.0") == first and files_digest(tmp_path, "0.2.0") != first
    page.write_text("<p class=clue>{{ clue }}</p>")
    second = files_digest(tmp_path, "0.1.0")
    style.write_text("p { color: blue }")
    assert len({first, second, files_digest(tmp_path, "0.1.0")}) == 3
