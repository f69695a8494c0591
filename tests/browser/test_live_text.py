"""A visitor types a text into a feature page's box, sees it highlighted and marked on the histogram, and
clicks a token for its attribution (Chromium against a live server on the pool's tiny Llama).

Screenshots go to test-artifacts/browser/.
"""

from __future__ import annotations

import pytest

from tests.browser.test_new_visitor import page, shot  # noqa: F401  (fixture)
from tests.web.live_world import MODEL, SOURCE, live_client, make_live_world  # noqa: F401  (fixture)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("live_client")]


@pytest.fixture
def site(server):
    """Made before the browser starts: Playwright's event loop makes later database calls refuse to run."""
    make_live_world()
    return server


def test_a_visitor_tests_a_text_and_clicks_a_token(site, page):  # noqa: F811
    page.goto(f"{site}/{MODEL}/{SOURCE}/1")
    page.get_by_label("Type a text to see where this feature fires on it").fill("The cat sat on the mat.")
    page.get_by_role("button", name="Show activations").click()
    tokens = page.locator(".live-tokens button.tok")
    tokens.first.wait_for()
    assert "".join(tokens.all_inner_texts()) == "The cat sat on the mat."
    shaded = tokens.evaluate_all("els => els.map(e => getComputedStyle(e).getPropertyValue('--a'))")
    assert max(float(a or 0) for a in shaded) > 0  # shaded by a class, not an inline style
    assert page.locator("svg.hist g.mark line").count() == 1
    tokens.nth(6).click()
    page.locator(".live-attr").wait_for()
    assert "What makes it fire at" in page.locator(".live-attr").inner_text()
    assert page.locator(".live-attr .ctx .tok.attr.target").count() == 1
    shot(page, "20-live-text")
