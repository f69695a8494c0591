"""The site's pages, the Django admin and the API docs work under the content security policy: each is opened
in Chromium, signed in as an admin, and the conftest fails the test on any violation the browser reports.
"""

from __future__ import annotations

import pytest

from tests.browser.test_new_visitor import CHROMIUM_ARGS, shot
from tests.web.conftest import make_world

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PAGES = ["/", "/tiny/1-mlp/0", "/search/", "/search/explanations/?q=cats", "/steer/", "/play/", "/leaderboard/",
         "/accounts/login/", "/api/docs"]
ADMIN_PAGES = ["/admin/", "/admin/explanations/explanation/", "/admin/explanations/explanation/add/",
               "/admin/auth/user/add/"]


@pytest.fixture
def site(server, django_user_model):
    make_world(lambda words: [f"{words[0]} and similar words"], method="token-list")
    django_user_model.objects.create_superuser("admin", "admin@example.org", "an-admin-pass-phrase")
    return server


@pytest.fixture
def page():
    playwright = pytest.importorskip("playwright.sync_api")
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        yield browser.new_page(viewport={"width": 1100, "height": 900})
        browser.close()


def test_pages_admin_and_api_docs_work_under_the_policy(site, page):
    for path in PAGES:
        response = page.goto(site + path)
        assert response is not None and response.status == 200, path
        page.wait_for_load_state("networkidle")
    assert page.locator(".swagger-ui").count() == 1  # the API docs rendered (their script ran)
    page.goto(site + "/admin/login/")
    page.get_by_label("Username").fill("admin")
    page.get_by_label("Password").fill("an-admin-pass-phrase")
    page.get_by_role("button", name="Log in").click()
    for path in ADMIN_PAGES:
        response = page.goto(site + path)
        assert response is not None and response.status == 200, path
        page.wait_for_load_state("networkidle")
    shot(page, "30-admin-under-the-policy")
