"""Predict and the daily puzzle in Chromium: on a phone (390 x 844, touch) a new visitor predicts, signs up,
is credited, then plays the daily and Predict as a player; on a desktop a visitor plays the daily, copies
the result, opens the comparison page and predicts, then signs up and predicts as a player.

Screenshots of each step go to test-artifacts/browser/.
"""

from __future__ import annotations

import pytest

from tests.browser.test_new_visitor import CHROMIUM_ARGS, shot, site  # noqa: F401  (fixture)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
PHONE = {"width": 390, "height": 844}
# Controls a thumb has to hit: tokens, the answer and skip buttons, the header's links, the copy button.
TARGETS = ".ptok:not(.legend .ptok), .answer-bar button, .pskip button, header.top a, header.top button, .share button"


@pytest.fixture
def browser():
    playwright = pytest.importorskip("playwright.sync_api")
    with playwright.sync_playwright() as p:
        chromium = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


def small_targets(page) -> list[str]:
    """Visible controls smaller than 44 x 44 CSS pixels."""
    return page.evaluate("""(selector) => [...document.querySelectorAll(selector)]
        .filter(e => e.offsetParent !== null && !e.hidden)
        .map(e => [e, e.getBoundingClientRect()])
        .filter(([e, r]) => r.width < 44 || r.height < 44)
        .map(([e, r]) => `${e.tagName} "${e.textContent.trim().slice(0, 20)}" ${r.width.toFixed(0)}x${r.height.toFixed(0)}`)""",
                         TARGETS)


def in_first_screen(page, selector: str) -> bool:
    box = page.locator(selector).first.bounding_box()
    return box is not None and box["y"] >= 0 and box["y"] + box["height"] <= PHONE["height"]


def test_on_a_phone_a_visitor_predicts_signs_up_and_plays_the_daily(site, browser):  # noqa: F811
    context = browser.new_context(viewport=PHONE, is_mobile=True, has_touch=True)
    page = context.new_page()
    page.goto(site + "/predict/")
    assert page.locator("header.top").bounding_box()["height"] <= 60  # the header is one line
    for part in (".pexpl-text", ".ptext .ptok", ".answer-bar button"):  # clues and the way to answer
        assert in_first_screen(page, part), part
    assert small_targets(page) == []
    tokens = page.locator(".ptext").first.locator(".ptok")
    tokens.nth(1).tap()
    tokens.nth(2).tap()
    tokens.nth(2).tap()  # a second tap unmarks
    assert page.locator(".pcount").inner_text() == "1 word marked"
    assert page.locator(".ptok:has(input:checked)").count() == 1
    shot(page, "30-phone-predict")
    page.get_by_role("button", name="Check my guess").tap()
    assert "Your guess scored" in page.locator("#result-h").inner_text()
    result_token = page.locator(".ptext.result").first.locator("button.ptok").nth(1)
    result_token.tap()  # no hover on a phone: a tap shows the value
    info = page.locator(".ptext.result").first.locator(".tapinfo").inner_text()
    assert "activation" in info and "you marked it 10" in info
    assert small_targets(page) == []
    shot(page, "31-phone-predict-result")

    page.goto(site + "/accounts/signup/?next=/daily/")
    page.get_by_label("Email").fill("thumb@example.org")
    page.get_by_label("Password").fill("a-long-pass-phrase")
    page.get_by_role("button", name="Sign Up").tap()
    page.wait_for_url(lambda url: "signup" not in url)  # a tap does not wait for the page it starts
    assert "predictions from before you signed in are now yours" in page.content()
    page.goto(site + "/daily/")
    assert in_first_screen(page, ".pexpl-text") and in_first_screen(page, ".answer-bar button")
    page.locator(".ptext").first.locator(".ptok").first.tap()
    page.get_by_role("button", name="Check my guess").tap()
    page.locator("#result").wait_for()
    assert "Done! +" in page.content() and "1-day daily streak" in page.locator(".score-pill").inner_text()
    assert "Featurepedia daily #1" in page.locator("#share-text").input_value()
    assert small_targets(page) == []
    shot(page, "32-phone-daily-player")
    page.goto(site + "/predict/")  # and Predict as a player: points for each guess
    page.locator(".ptext").first.locator(".ptok").first.tap()
    page.get_by_role("button", name="Check my guess").tap()
    page.locator("#result").wait_for()
    assert " point" in page.locator(".messages").inner_text() and "Sign up" not in page.locator(".messages").inner_text()
    context.close()


def test_on_a_desktop_a_visitor_plays_the_daily_copies_the_result_and_predicts(site, browser):  # noqa: F811
    context = browser.new_context(viewport={"width": 1100, "height": 900})
    context.grant_permissions(["clipboard-read", "clipboard-write"])
    page = context.new_page()
    page.goto(site + "/")
    page.get_by_role("link", name="today's daily puzzle").click()
    assert "Daily puzzle #1" in page.locator("h1").inner_text()
    page.locator(".ptext").first.locator(".ptok").nth(4).click()
    page.get_by_role("button", name="Check my guess").click()
    share = page.locator("#share-text").input_value()
    assert share.startswith("Featurepedia daily #1 · ") and share.endswith("/daily/tiny-1/")
    page.get_by_role("button", name="Copy result").click()
    page.get_by_role("button", name="Copied!").wait_for(timeout=5000)
    assert page.evaluate("navigator.clipboard.readText()") == share
    page.reload()
    assert page.locator("form[data-predict]").count() == 0  # one play a day: the result, not the puzzle
    shot(page, "33-desktop-daily-visitor")
    page.goto(site + "/compare/")
    assert "Pairwise rating (This vs That)" in page.content()
    shot(page, "34-compare")
    page.goto(site + "/")  # Predict, as a visitor and then as a player
    page.get_by_role("link", name="Predict", exact=True).click()
    page.locator(".ptext").first.locator(".ptok").nth(4).click()
    assert page.locator(".pcount").inner_text() == "1 word marked"
    page.get_by_role("button", name="Check my guess").click()
    assert "Your guess scored" in page.locator("#result-h").inner_text()
    page.goto(site + "/accounts/signup/?next=/predict/")
    page.get_by_label("Email").fill("desk@example.org")
    page.get_by_label("Password").fill("a-long-pass-phrase")
    with page.expect_navigation():
        page.get_by_role("button", name="Sign Up").click()
    assert "predictions from before you signed in are now yours" in page.content()
    page.goto(site + "/predict/")
    page.locator(".ptext").first.locator(".ptok").nth(4).click()
    page.get_by_role("button", name="Check my guess").click()
    page.locator("#result").wait_for()
    assert " point" in page.locator(".messages").inner_text() and "Sign up" not in page.locator(".messages").inner_text()
    shot(page, "35-desktop-predict-player")
    context.close()
