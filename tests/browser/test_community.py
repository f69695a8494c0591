"""Contests, lists, comments and the feature map in Chromium, as players use them: a running contest counts a
play on its board and an ended one shows its results (on a phone); a list is made from a feature page, shared
by its link and hidden without it; a comment is posted, reported by another player and deleted (on a
desktop); the map draws its points, hovering (or a first tap) shows a feature's explanation and clicking
opens its page (desktop and phone).

Screenshots go to test-artifacts/browser/.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.browser.test_new_visitor import ARTIFACTS, CHROMIUM_ARGS
from tests.web.conftest import make_world

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True}
DESKTOP = {"viewport": {"width": 1100, "height": 900}}
PASSWORD = "a-long-pass-phrase"
MAP_XY = [(0.1, 0.2), (0.5, 0.8), (0.9, 0.4)]  # feature index -> its place on the map


@pytest.fixture
def site(server, django_user_model):
    """Made before the browser starts: Playwright's event loop makes later database calls refuse to run."""
    from django.utils import timezone

    from featurepedia.web.catalog.models import SourceMap
    from featurepedia.web.game.models import Campaign, PlayEvent

    world = make_world(lambda words: [f"{words[0]} and similar words", f"the word {words[1]}"])
    for name in ("ada", "bo"):
        django_user_model.objects.create_user(username=name, email=f"{name}@example.org", password=PASSWORD)
    now = timezone.now()
    Campaign.objects.create(slug="quest", title="This week's side quest", source=world["source"], contest=True,
                            starts=now - timedelta(days=1), ends=now + timedelta(days=6))
    ended = Campaign.objects.create(slug="old-quest", title="Last week's side quest", source=world["source"],
                                    contest=True, starts=now - timedelta(days=9), ends=now - timedelta(days=2))
    bo = django_user_model.objects.get(username="bo")
    PlayEvent.objects.create(user=bo, feature=world["features"][0], campaign=ended, action=PlayEvent.Action.VOTE,
                             points=7, created=now - timedelta(days=5))
    PlayEvent.objects.create(user=bo, feature=world["features"][1], campaign=ended, action=PlayEvent.Action.VOTE,
                             points=3, created=now - timedelta(days=1))  # after the end: not counted
    SourceMap.objects.create(source=world["source"], x=[x for x, _ in MAP_XY], y=[y for _, y in MAP_XY],
                             params={"method": "umap", "n_neighbors": 2, "n_features": 3})
    return server


@pytest.fixture
def browser():
    playwright = pytest.importorskip("playwright.sync_api")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with playwright.sync_playwright() as p:
        chromium = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


def signed_in(browser, site: str, name: str, screen: dict):  # type: ignore[no-untyped-def]
    page = browser.new_context(**screen).new_page()
    page.goto(site + "/accounts/login/")
    page.fill("input[name=login]", f"{name}@example.org")
    page.fill("input[name=password]", PASSWORD)
    with page.expect_navigation():
        page.locator("form button[type=submit]").last.click()
    assert "/accounts/login/" not in page.url, page.content()
    return page


def test_a_running_contest_counts_a_play_and_an_ended_one_shows_its_results(site, browser):
    page = signed_in(browser, site, "ada", PHONE)
    page.goto(site + "/tiny/1-mlp/0")  # on a feature page too, a tapped clue word shows its value
    token = page.locator(".ctx span[title]").nth(5)
    token.tap()
    readout = page.locator(".tok-readout.float")
    assert readout.is_visible() and readout.text_content() == f"“{token.text_content()}”  {token.get_attribute('title')}"
    page.goto(site + "/contests/")
    with page.expect_navigation():  # a tap does not wait for the page it opens
        page.get_by_role("link", name="This week's side quest").tap()
    assert "Running" in page.content() and "You have no points in this contest yet" in page.content()
    for mode in ("This vs That", "Predict", "Odd one out"):  # every mode can be played in it, by thumb
        assert page.get_by_role("link", name=mode, exact=True).bounding_box()["height"] >= 44
    with page.expect_navigation():
        page.get_by_role("link", name="Play this contest").tap()
    with page.expect_navigation():
        page.get_by_role("button", name="Got it").tap()
    page.goto(page.url + "?reveal=1")
    with page.expect_navigation():
        page.locator("button.choice").first.tap()
    with page.expect_navigation():
        page.get_by_role("button", name="Yes, vote for it").tap()
    assert "You voted for" in page.content()
    page.goto(site + "/contests/quest/")
    me = page.locator("table.board tr.me")
    assert me.count() == 1 and "ada" in me.inner_text() and me.locator("td").last.inner_text() == "1"
    assert "You are #1 with 1 point." in page.locator("main").inner_text()
    page.screenshot(path=str(ARTIFACTS / "40-phone-contest-running.png"), full_page=True)

    page.goto(site + "/contests/old-quest/")
    assert "These are its final results" in page.content() and "Final standings" in page.content()
    rows = page.locator("table.board tbody tr")
    assert rows.count() == 1 and "bo" in rows.first.inner_text() and rows.first.locator("td").last.inner_text() == "7"
    page.screenshot(path=str(ARTIFACTS / "41-phone-contest-ended.png"), full_page=True)
    page.goto(site + "/play/old-quest/")
    assert "has ended" in page.locator("main").inner_text() and page.locator("button.choice").count() == 0


def test_a_list_is_made_shared_by_its_link_and_private_without_it(site, browser):
    page = signed_in(browser, site, "ada", DESKTOP)
    page.goto(site + "/tiny/1-mlp/0")
    page.get_by_label("New list").fill("cats and numbers")
    with page.expect_navigation():
        page.get_by_role("button", name="Make it").click()
    assert page.locator("h1").inner_text() == "cats and numbers"
    list_url = page.url.split("?")[0]
    page.goto(site + "/tiny/1-mlp/1")
    page.get_by_label("Add to list").select_option(label="cats and numbers")
    with page.expect_navigation():
        page.get_by_role("button", name="Add", exact=True).click()
    assert "Added to “cats and numbers”" in page.locator(".messages").inner_text()
    page.goto(list_url)
    share = page.get_by_label("the list's share link").input_value()
    assert "key=" in share and page.locator("table a[href*='/tiny/1-mlp/']").count() == 2
    page.screenshot(path=str(ARTIFACTS / "42-list-owner.png"), full_page=True)

    stranger = browser.new_context(**DESKTOP).new_page()  # no account, no cookies
    response = stranger.goto(share)
    assert response is not None and response.status == 200
    assert stranger.locator("h1").inner_text() == "cats and numbers"
    assert "and similar words" in stranger.locator("main").inner_text()  # the features' best explanations
    assert stranger.get_by_role("link", name="Edit").count() == 0
    response = stranger.goto(list_url)
    assert response is not None and response.status == 404
    response = stranger.goto(list_url + "?key=not-the-key")
    assert response is not None and response.status == 404
    stranger.goto(site + "/lists/")
    assert "cats and numbers" not in stranger.locator("main").inner_text()  # private: not listed


def test_a_comment_is_posted_reported_and_deleted(site, browser):
    ada = signed_in(browser, site, "ada", DESKTOP)
    ada.goto(site + "/tiny/1-mlp/2")
    ada.locator("#comments summary").click()
    ada.get_by_label("Your comment").fill("Fires on <b>capitals</b>, not on every city?")
    with ada.expect_navigation():
        ada.get_by_role("button", name="Post").click()
    comment = ada.locator("article.comment")
    assert comment.count() == 1 and "Fires on <b>capitals</b>, not on every city?" in comment.inner_text()  # escaped
    assert comment.get_by_role("button", name="Report").count() == 0  # not one's own

    bo = signed_in(browser, site, "bo", DESKTOP)
    bo.goto(site + "/tiny/1-mlp/2")
    with bo.expect_navigation():
        bo.locator("article.comment").get_by_role("button", name="Report").click()
    assert "a moderator will look at this comment" in bo.locator(".messages").inner_text()
    bo.screenshot(path=str(ARTIFACTS / "43-comment-reported.png"), full_page=True)

    ada.reload()
    with ada.expect_navigation():
        ada.locator("article.comment").get_by_role("button", name="Delete").click()
    assert ada.locator("article.comment").count() == 0 and "capitals" not in ada.locator("main").inner_text()
    bo.reload()
    assert bo.locator("article.comment").count() == 0


def map_point(page, index: int) -> tuple[float, float]:
    """Where feature ``index`` is drawn, in page coordinates (map.js: 12-px padding, y upwards)."""
    box = page.locator("#fmap").bounding_box()
    width, height = page.evaluate("[fmap.width, fmap.height]")
    x, y = MAP_XY[index]
    return (box["x"] + (12 + x * (width - 24)) * box["width"] / width,
            box["y"] + (12 + (1 - y) * (height - 24)) * box["height"] / height)


@pytest.mark.parametrize("screen", ["desktop", "phone"])
def test_the_map_draws_explains_and_opens_a_feature(site, browser, screen):
    page = browser.new_context(**(PHONE if screen == "phone" else DESKTOP)).new_page()
    page.goto(site + "/tiny/1-mlp/map")
    page.locator("#fmap[data-ready='3']").wait_for()  # map.js has drawn the three points
    drawn = page.evaluate("""() => { const d = fmap.getContext('2d').getImageData(0, 0, fmap.width, fmap.height).data;
        let n = 0; for (let i = 3; i < d.length; i += 4) n += d[i] > 0; return n; }""")
    assert drawn > 3 * 20  # three filled dots, not an empty canvas
    x, y = map_point(page, 1)
    tip = page.locator("#map-tip")
    if screen == "phone":
        page.mouse.move(0, 0)
        page.touchscreen.tap(x + 6, y + 6)  # a fingertip off the point: the first tap shows it
    else:
        page.mouse.move(x, y)
    tip.wait_for(state="visible")
    assert "neuron 1 — " in tip.inner_text() and "42 and similar words" in tip.inner_text()
    page.screenshot(path=str(ARTIFACTS / f"44-map-{screen}.png"))
    with page.expect_navigation():
        page.touchscreen.tap(x + 6, y + 6) if screen == "phone" else page.mouse.click(x, y)
    assert page.url.endswith("/tiny/1-mlp/1")
