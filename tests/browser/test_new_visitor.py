"""A new visitor in Chromium: plays before signing up, signs up, is credited, votes, writes, ranks.

Screenshots of each step go to test-artifacts/browser/.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.web.conftest import make_world

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "browser"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def site(server):
    make_world(lambda words: [f"{words[0]} and similar words"], method="token-list")
    return server


@pytest.fixture
def page():
    playwright = pytest.importorskip("playwright.sync_api")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1100, "height": 900})
        yield page
        browser.close()


def shot(page, name: str) -> None:
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def test_new_visitor_plays_signs_up_and_ranks(site, page):
    page.goto(site + "/")
    shot(page, "01-home")
    page.get_by_role("link", name="Play now").click()
    page.get_by_role("button", name="Got it").click()
    shot(page, "02-puzzle")
    page.get_by_role("link", name="Reveal").click()
    page.locator("button.choice").first.click()
    page.get_by_role("button", name="Yes, vote for it").click()
    assert "Vote kept" in page.content()
    shot(page, "03-answered-as-visitor")

    page.locator(".score-pill").get_by_role("link", name="Sign up").click()
    page.get_by_label("Email").fill("newbie@example.org")
    page.get_by_label("Password").fill("a-long-pass-phrase")
    with page.expect_navigation():  # the sign-up's redirect has loaded (slower through the production stack)
        page.get_by_role("button", name="Sign Up").click()
    assert "now yours" in page.content()
    assert "1 point" in page.locator(".score-pill").inner_text() and "Sign up to save" not in page.content()
    shot(page, "04-credited-after-signup")

    page.get_by_role("link", name="Next puzzle").click()
    page.get_by_role("link", name="Reveal").click()
    page.locator("button.choice").first.click()
    assert "You voted for" in page.content()
    shot(page, "05-voted")

    page.get_by_role("link", name="Next puzzle").click()
    page.get_by_label("Your explanation").fill("a brand new idea about this neuron")
    page.get_by_role("button", name="Submit explanation").click()
    # Scored at once in embedded mode; in production the task worker scores it a moment later.
    assert "Your explanation scored" in page.content() or "Your explanation is saved and is being scored" in page.content()
    shot(page, "06-explanation-scored")

    page.get_by_role("link", name="Leaderboard").click()
    assert page.locator("tr.me").count() == 1 and "newbie" in page.locator("tr.me").inner_text()
    shot(page, "07-leaderboard")


def on_first_screen(page, locator, height: int = 844) -> bool:
    box = locator.bounding_box()
    return box is not None and box["y"] >= 0 and box["y"] + box["height"] <= height


def test_on_a_phone_the_first_puzzle_screen_holds_the_clues_and_the_answers(site):
    """390 x 844 with touch: the clues and the way to answer are both on the first screen, before and after
    revealing the explanations; a tapped word shows its value; a visitor votes, signs up and votes again."""
    playwright = pytest.importorskip("playwright.sync_api")
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        phone = browser.new_page(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)
        phone.goto(site + "/play/")
        assert phone.locator("header.top").bounding_box()["height"] <= 60  # the header is one line
        assert phone.locator(".onboarding-short").is_visible() and not phone.locator(".onboarding ol").is_visible()
        first_clue = phone.locator(".clues li.ctx").first
        reveal, write = phone.get_by_role("link", name="Reveal"), phone.get_by_label("Your explanation")
        for target in (first_clue, reveal, write):
            assert on_first_screen(phone, target), target
        got_it = phone.get_by_role("button", name="Got it").bounding_box()
        assert got_it is not None and got_it["height"] >= 44
        shot(phone, "06-phone-first-puzzle")
        with phone.expect_navigation():  # a tap does not wait for the page it opens
            phone.get_by_role("button", name="Got it").tap()
        with phone.expect_navigation():
            reveal.tap()
        choices = phone.locator("button.choice")
        assert on_first_screen(phone, first_clue) and on_first_screen(phone, choices.first)
        assert all(choices.nth(i).bounding_box()["height"] >= 44 for i in range(choices.count()))
        token = first_clue.locator("span[title]").nth(5)
        token.tap()  # no hover on a phone: the value shows above the answers
        readout = phone.locator(".tok-readout")
        assert readout.text_content() == f"“{token.text_content()}”  {token.get_attribute('title')}"
        assert on_first_screen(phone, readout)
        phone.screenshot(path=str(ARTIFACTS / "07-phone-puzzle-revealed.png"))
        with phone.expect_navigation():
            choices.first.tap()
        with phone.expect_navigation():
            phone.get_by_role("button", name="Yes, vote for it").tap()
        assert "Vote kept" in phone.locator("#result").inner_text()
        assert on_first_screen(phone, phone.get_by_role("link", name="Next puzzle"))
        phone.goto(site + "/accounts/signup/?next=/play/")
        phone.get_by_label("Email").fill("phone-voter@example.org")
        phone.get_by_label("Password").fill("a-long-pass-phrase")
        phone.get_by_role("button", name="Sign Up").tap()
        phone.wait_for_url(lambda url: "signup" not in url)
        assert "now yours" in phone.content() and "1 point" in phone.locator(".score-pill").inner_text()
        phone.goto(phone.url.split("?")[0] + "?reveal=1")
        with phone.expect_navigation():
            phone.locator("button.choice").first.tap()
        assert "You voted for" in phone.content() and "2 points" in phone.locator(".score-pill").inner_text()
        shot(phone, "08-phone-voted-as-player")
        browser.close()
