"""This-vs-That and Odd-one-out in Chromium, on a desktop and on a 390×844 phone: a new visitor starts from
the home page, answers, signs up and answers again as a player. On the phone the first screen holds the
clues and the answers, and every tap target is at least 44 px high.

Screenshots go to test-artifacts/browser/.
"""

from __future__ import annotations

import pytest

from tests.browser.test_new_visitor import ARTIFACTS, CHROMIUM_ARGS
from tests.web.conftest import make_world

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SCREENS = {"desktop": {"width": 1100, "height": 900}, "phone": {"width": 390, "height": 844}}


@pytest.fixture
def site(server):
    """Made before the browser starts: Playwright's event loop makes later database calls refuse to run."""
    make_world(lambda words: [f"{words[0]} and similar words", f"the word {words[1]}",
                              "a long explanation: " + "things people write about, " * 6])
    return server


@pytest.fixture(params=list(SCREENS))
def screen(request):
    playwright = pytest.importorskip("playwright.sync_api")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    phone = request.param == "phone"
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        page = browser.new_page(viewport=SCREENS[request.param], is_mobile=phone, has_touch=phone)
        yield request.param, page
        browser.close()


def tap(name: str, page, locator) -> None:
    locator.tap() if name == "phone" else locator.click()


def on_first_screen(page, locator) -> bool:
    box = locator.bounding_box()
    return box is not None and box["y"] >= 0 and box["y"] + box["height"] <= page.viewport_size["height"]


def check_targets(page, locator) -> None:
    for i in range(locator.count()):
        box = locator.nth(i).bounding_box()
        assert box["height"] >= 44, (locator.nth(i).inner_text(), box)


def sign_up(page, email: str) -> None:
    page.goto(page.url.split("/versus")[0].split("/odd-one-out")[0] + "/accounts/signup/")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill("a-long-pass-phrase")
    with page.expect_navigation():  # the sign-up's redirect has loaded (slower through the production stack)
        page.get_by_role("button", name="Sign Up").click()


def test_this_vs_that_from_the_home_page(site, screen):
    name, page = screen
    page.goto(site + "/")
    tap(name, page, page.get_by_role("link", name="This vs That"))
    page.wait_for_url("**/versus/tiny-1/")
    sides = page.locator("button.choice.side")
    assert sides.count() == 2
    page.screenshot(path=str(ARTIFACTS / f"30-versus-{name}.png"))  # the first screen, as the player sees it
    if name == "phone":
        assert page.evaluate("document.documentElement.scrollWidth") <= 390  # nothing wider than the screen
        assert on_first_screen(page, page.locator(".snippets li").first)
        for target in [sides.first, sides.last, page.get_by_role("button", name="Both bad")]:
            assert on_first_screen(page, target)
        check_targets(page, page.locator(".versus-answer button"))
    tok = page.locator(".snippets span[title]").nth(4)
    tap(name, page, tok)
    assert page.locator(".tok-readout").text_content() == f"“{tok.text_content()}”  {tok.get_attribute('title')}"
    tap(name, page, sides.first)
    assert "You said" in page.locator(".messages").inner_text()
    assert "Sign up to keep" in page.locator(".messages").inner_text()

    sign_up(page, f"versus-{name}@example.org")
    assert "now yours" in page.content()
    page.goto(site + "/versus/")
    tap(name, page, page.get_by_role("button", name="Both bad"))
    assert "+1 point" in page.locator(".messages").inner_text()
    assert "2 points" in page.locator(".score-pill").inner_text()
    page.screenshot(path=str(ARTIFACTS / f"31-versus-player-{name}.png"))
    for index in range(3):  # the two answers are on the features' pages
        page.goto(f"{site}/tiny/1-mlp/{index}")
        panel = page.locator("section.judgements")
        if "compared its explanations (" in panel.inner_text():
            assert "1 person compared" in panel.inner_text() and panel.locator("table.ratings tr").count() == 4
            break
    else:
        raise AssertionError("no feature page shows the comparisons")
    page.screenshot(path=str(ARTIFACTS / f"34-feature-judgements-{name}.png"), full_page=True)


def test_odd_one_out_from_the_home_page(site, screen):
    name, page = screen
    page.goto(site + "/")
    tap(name, page, page.get_by_role("link", name="Odd one out"))
    page.wait_for_url("**/odd-one-out/tiny-1/")
    snippets = page.locator("button.choice.snippet")
    assert snippets.count() == 4
    page.screenshot(path=str(ARTIFACTS / f"32-oddone-{name}.png"))
    if name == "phone":
        assert page.evaluate("document.documentElement.scrollWidth") <= 390
        for target in [snippets.first, snippets.last, page.get_by_role("button", name="They are all alike")]:
            assert on_first_screen(page, target)
        check_targets(page, page.locator(".oddone-answer button"))
    tap(name, page, snippets.nth(2))
    result = page.locator("#result").inner_text()
    assert ("You found it!" in result or "Not that one" in result) and "Sign up to keep" in result
    assert page.locator(".odd-snippets.revealed li.odd").count() == 1
    page.screenshot(path=str(ARTIFACTS / f"33-oddone-result-{name}.png"))

    sign_up(page, f"odd-{name}@example.org")
    assert "now yours" in page.content()
    page.goto(site + "/odd-one-out/")
    tap(name, page, page.get_by_role("button", name="They are all alike"))
    assert "You said they are all alike" in page.locator("#result").inner_text()
    assert "+1 point" in page.locator("#result").inner_text()
