"""The site's header: on a phone one line (the brand, Play and a Menu button that opens the other links), on a
wide screen every link in the row. The menu is a <details>, so it works without script too."""

from __future__ import annotations

import pytest

from tests.browser.test_new_visitor import CHROMIUM_ARGS, shot, site  # noqa: F401  (fixture)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True}
LINKS = ["Search", "Explanations", "Steer", "Daily", "Leaderboard", "Contests", "Lists", "Sign in", "Sign up"]


@pytest.fixture
def browser():
    playwright = pytest.importorskip("playwright.sync_api")
    with playwright.sync_playwright() as p:
        chromium = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


def header_sizes(page) -> list[tuple[str, float, float]]:
    """The visible links and buttons of the header, with their width and height in CSS pixels."""
    return page.evaluate("""() => [...document.querySelectorAll('header.top a, header.top button, header.top summary')]
        .filter(e => e.checkVisibility())
        .map(e => { const r = e.getBoundingClientRect(); return [e.textContent.trim(), r.width, r.height]; })""")


def menu_button(context, page) -> tuple[str, bool]:
    """The Menu control's role and expanded state in Chromium's accessibility tree (what a screen reader reads)."""
    nodes = context.new_cdp_session(page).send("Accessibility.getFullAXTree")["nodes"]
    (node,) = [n for n in nodes if n.get("name", {}).get("value") == "Menu" and n["role"]["value"] not in ("StaticText", "InlineTextBox")]
    expanded = {p["name"]: p["value"].get("value") for p in node.get("properties", [])}.get("expanded")
    return node["role"]["value"], bool(expanded)


def test_on_a_phone_the_header_is_one_line_and_its_menu_opens_the_other_links(site, browser):  # noqa: F811
    page = browser.new_context(**PHONE).new_page()
    page.goto(site + "/play/")
    header = page.locator("header.top")
    assert header.bounding_box()["height"] <= 60
    assert [name for name, _, _ in header_sizes(page)] == ["Featurepedia", "Play", "Menu"]
    assert all(w >= 44 and h >= 44 for _, w, h in header_sizes(page)), header_sizes(page)
    menu = page.locator("details.site-menu")
    assert not page.get_by_role("link", name="Leaderboard").is_visible()
    page.locator("details.site-menu > summary").tap()
    assert menu.get_attribute("open") is not None
    visible = [name for name, _, _ in header_sizes(page)][3:]
    assert visible == LINKS  # Play stays beside the button, not in the list
    assert all(w >= 44 and h >= 44 for _, w, h in header_sizes(page)), header_sizes(page)
    assert header.bounding_box()["height"] <= 60  # the list drops over the page; the header keeps its line
    shot(page, "50-phone-menu-open")
    with page.expect_navigation():
        menu.get_by_role("link", name="Leaderboard").tap()
    assert page.url.endswith("/leaderboard/")
    page.locator("details.site-menu > summary").tap()
    with page.expect_navigation():
        menu.get_by_role("link", name="Sign up").tap()
    assert "/accounts/signup/" in page.url
    # A tap outside closes it (site.js).
    page.locator("details.site-menu > summary").tap()
    page.locator("footer.foot").tap()
    assert menu.get_attribute("open") is None


def test_the_phone_menu_works_from_the_keyboard_and_without_script(site, browser):  # noqa: F811
    context = browser.new_context(**PHONE)
    page = context.new_page()
    page.goto(site + "/")
    assert menu_button(context, page) == ("DisclosureTriangle", False)
    page.locator("details.site-menu > summary").focus()
    page.keyboard.press("Enter")
    assert page.locator("details.site-menu").get_attribute("open") is not None
    assert menu_button(context, page) == ("DisclosureTriangle", True)  # a screen reader hears "expanded"
    page.keyboard.press("Tab")  # into the list, which follows the button
    assert page.evaluate("document.activeElement.textContent.trim()") == "Search"
    page.keyboard.press("Escape")  # closes it and gives the button back the focus (site.js)
    assert page.locator("details.site-menu").get_attribute("open") is None
    assert page.evaluate("document.activeElement.tagName") == "SUMMARY"

    plain = browser.new_context(**PHONE, java_script_enabled=False).new_page()
    plain.goto(site + "/")
    plain.locator("details.site-menu > summary").tap()
    with plain.expect_navigation():
        plain.locator("details.site-menu").get_by_role("link", name="Contests").tap()
    assert plain.url.endswith("/contests/")


def test_on_a_wide_screen_every_link_is_in_the_header_row(site, browser):  # noqa: F811
    page = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
    page.goto(site + "/")
    names = [name for name, _, _ in header_sizes(page)]
    assert names == ["Featurepedia", "Search", "Explanations", "Steer", "Play", *LINKS[3:]]
    assert page.locator("header.top").bounding_box()["height"] <= 70  # one row
    assert not page.locator("details.site-menu").is_visible() and not page.locator(".phone-play").is_visible()
    with page.expect_navigation():
        page.get_by_role("link", name="Lists").click()
    assert page.url.endswith("/lists/")
