"""Errors on the web: a FeaturepediaError answers with its status, as the one JSON shape under /api/ and
as an HTML page elsewhere; unknown API addresses and crashes answer in the JSON shape too."""

from __future__ import annotations

import pytest
from django.http import HttpRequest, HttpResponse
from django.test import Client, override_settings
from django.urls import path

from featurepedia.errors import FeaturepediaError, NotFoundError, UnavailableError, UsageError
from featurepedia.web import urls as site_urls

RAISED = {
    "not-found": NotFoundError("no feature 99 in tiny/1-mlp; it has features 0-2"),
    "usage": UsageError("text is 12,000 characters; the limit is 10,000"),
    "unavailable": UnavailableError("the scorer's endpoint is down; try again in a minute"),
    "teapot": FeaturepediaError("<b>short and stout</b>", status=418),
    "crash": RuntimeError("a bug"),
}


def raising(request: HttpRequest, name: str) -> HttpResponse:
    raise RAISED[name]


# This module is the URL conf of the tests below: views that raise, under /api/ and not, before the site.
urlpatterns = [path("api/raise/<slug:name>", raising), path("raise/<slug:name>", raising),
               *site_urls.urlpatterns]
handler404 = site_urls.handler404
handler500 = site_urls.handler500

raising_urls = override_settings(ROOT_URLCONF=__name__)


@raising_urls
@pytest.mark.parametrize(("name", "status"), [("not-found", 404), ("usage", 400), ("unavailable", 503),
                                              ("teapot", 418)])
def test_an_api_error_is_the_json_shape_with_its_status(client, name, status):
    response = client.get(f"/api/raise/{name}")
    assert response.status_code == status
    assert response["Content-Type"] == "application/json"
    assert response.json() == {"ok": False, "error": str(RAISED[name]), "status": status}


@raising_urls
@pytest.mark.parametrize(("name", "status"), [("not-found", 404), ("usage", 400), ("unavailable", 503),
                                              ("teapot", 418)])
def test_a_page_error_is_an_html_page_with_its_status(client, name, status):
    response = client.get(f"/raise/{name}")
    assert response.status_code == status
    assert response["Content-Type"].startswith("text/html")
    assert b'"ok"' not in response.content
    if name == "teapot":  # the message is shown, escaped
        assert b"&lt;b&gt;short and stout&lt;/b&gt;" in response.content and b"<b>" not in response.content


@raising_urls
def test_a_crash_in_the_api_is_the_json_shape_and_a_page_crash_stays_html():
    client = Client(raise_request_exception=False)
    api = client.get("/api/raise/crash")
    assert api.status_code == 500 and api.json()["status"] == 500 and api.json()["ok"] is False
    assert "a bug" not in api.json()["error"]  # internals stay in the log
    page = client.get("/raise/crash")
    assert page.status_code == 500 and page["Content-Type"].startswith("text/html")


@pytest.mark.django_db
def test_an_unknown_api_address_is_the_json_shape_and_an_unknown_page_stays_html(client):
    for address in ["/api/", "/api/nothing/", "/api/nothing/here/", "/api/nothing/here/3"]:
        response = client.get(address)
        assert response.status_code == 404, address
        assert response.json() == {"ok": False, "error": f"no API endpoint at {address}; check the address",
                                   "status": 404}
    page = client.get("/no-such-model/")
    assert page.status_code == 404 and page["Content-Type"].startswith("text/html")
