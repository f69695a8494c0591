"""The API's edges: every error in the one shape, rate limits (429 + Retry-After), trailing slashes, the schema."""

from __future__ import annotations

import json

import pytest
from django.test import Client

from featurepedia.settings import Settings, SettingsError, reset_settings

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fresh_cache")]

READS = ["/api/feature/tiny/1-mlp/0", "/api/models", "/api/models/tiny/sources",
         "/api/models/tiny/sources/1-mlp/features", "/api/features/tiny/1-mlp/0/explanations", "/api/campaigns",
         "/api/leaderboard"]


@pytest.fixture
def limits(monkeypatch):
    """Set the API's rate limits for one test."""
    def set_limits(anonymous: int = 120, key: int = 1200, window: int = 60, **env: str) -> None:
        monkeypatch.setenv("FEATUREPEDIA_API_RATE_ANONYMOUS", str(anonymous))
        monkeypatch.setenv("FEATUREPEDIA_API_RATE_KEY", str(key))
        monkeypatch.setenv("FEATUREPEDIA_API_RATE_WINDOW", str(window))
        for name, value in env.items():
            monkeypatch.setenv(f"FEATUREPEDIA_{name.upper()}", value)
        reset_settings()
    yield set_limits
    monkeypatch.undo()
    reset_settings()


def assert_error_shape(response, status: int) -> dict:
    assert response.status_code == status, response.content
    assert response["Content-Type"].startswith("application/json")
    body = response.json()
    assert body["ok"] is False and body["status"] == status
    assert isinstance(body["error"], str) and len(body["error"]) > 10
    assert set(body) <= {"ok", "error", "status", "errors"}
    return body


def test_every_error_path_answers_in_the_one_shape(world, api_key, limits, monkeypatch):
    _, key = api_key()
    client = Client(raise_request_exception=False)
    explanation = "/api/explanations/1/vote"
    cases = [
        (400, client.get("/api/feature/tiny/1-mlp/-1")),
        (400, client.get("/api/feature/tiny/1-mlp/x")),
        (400, client.get("/api/models?limit=100000")),
        (400, client.post(explanation, "{not json", content_type="application/json", headers={"X-Api-Key": key})),
        (400, client.post(explanation, {"value": "up"}, content_type="application/json", headers={"X-Api-Key": key})),
        (401, client.post(explanation, {"value": 1}, content_type="application/json")),
        (404, client.get("/api/feature/nope/1-mlp/0")),
        (404, client.get("/api/no/such/route")),
        (404, client.post("/api/no-such-post", {}, content_type="application/json")),
        (400, client.post("/api/steer/", {}, content_type="application/json")),
        (404, client.get(f"/api/explanations/{10**6}")),
        (405, client.delete("/api/models")),
    ]
    for status, response in cases:
        assert_error_shape(response, status)
    assert cases[-1][1]["Allow"] == "GET"
    validation = cases[1][1].json()
    assert validation["errors"][0]["loc"] == ["path", "index"]

    monkeypatch.setattr("featurepedia.web.api.routes.feature.feature_shape",
                        lambda feature: 1 / 0)  # a bug in a route
    crash = assert_error_shape(client.get("/api/feature/tiny/1-mlp/0"), 500)
    assert "division" not in crash["error"]  # internals stay in the log

    limits(anonymous=1)
    client.get("/api/models")
    assert_error_shape(client.get("/api/models"), 429)


def test_anonymous_requests_are_limited_per_address_with_retry_after(client, world, limits):
    limits(anonymous=3, window=60)
    for _ in range(3):
        assert client.get("/api/models").status_code == 200
    refused = client.get("/api/models/")
    body = assert_error_shape(refused, 429)
    assert 1 <= int(refused["Retry-After"]) <= 60
    assert "the limit is 3 per 60 seconds for your address (127.0.0.1)" in body["error"]
    assert "send an API key" in body["error"]
    other = client.get("/api/models", REMOTE_ADDR="10.0.0.9")  # another address has its own count
    assert other.status_code == 200
    spoofed = client.get("/api/models", HTTP_X_FORWARDED_FOR="10.9.9.9")  # not behind a proxy: ignored
    assert spoofed.status_code == 429


def test_behind_a_proxy_the_last_forwarded_address_counts(client, world, limits):
    limits(anonymous=1, public_url="https://featurepedia.example.org")
    first = client.get("/api/models", HTTP_X_FORWARDED_FOR="1.1.1.1, 203.0.113.5")
    assert first.status_code == 200
    # A client-chosen first entry does not make a new bucket: the proxy's (last) entry is the address.
    assert client.get("/api/models", HTTP_X_FORWARDED_FOR="8.8.8.8, 203.0.113.5").status_code == 429
    assert client.get("/api/models", HTTP_X_FORWARDED_FOR="203.0.113.6").status_code == 200


def test_a_valid_key_has_its_own_limit_and_an_unknown_key_is_anonymous(client, world, api_key, limits):
    user, key = api_key()
    limits(anonymous=1, key=2)
    assert client.get("/api/models", headers={"X-Api-Key": "fp_unknown"}).status_code == 200
    assert client.get("/api/models", headers={"X-Api-Key": "whatever"}).status_code == 429  # same address
    assert client.get("/api/models", headers={"X-Api-Key": key}).status_code == 200  # the key's own count
    assert client.get("/api/models", headers={"X-Api-Key": key}).status_code == 200
    refused = client.get("/api/models", headers={"X-Api-Key": key})
    body = assert_error_shape(refused, 429)
    assert "per 60 seconds for this API key (fp_" in body["error"] and refused["Retry-After"]
    revoked = user.api_keys.get()
    revoked.revoked = revoked.created
    revoked.save()
    assert client.get("/api/models", headers={"X-Api-Key": key}).status_code == 429  # revoked: anonymous again


def test_zero_means_no_limit(client, world, limits):
    limits(anonymous=0)
    assert all(client.get("/api/models").status_code == 200 for _ in range(5))


def test_rate_settings_are_checked():
    with pytest.raises(SettingsError, match="FEATUREPEDIA_API_RATE_KEY is -1"):
        Settings.from_env({"FEATUREPEDIA_API_RATE_KEY": "-1"})
    with pytest.raises(SettingsError, match="at least 1 second"):
        Settings.from_env({"FEATUREPEDIA_API_RATE_WINDOW": "0"})


@pytest.mark.parametrize("address", READS)
def test_every_route_answers_with_and_without_a_trailing_slash(client, world, address):
    plain, slashed = client.get(address), client.get(address + "/")
    assert plain.status_code == slashed.status_code == 200
    assert plain.json() == slashed.json()


def test_a_post_is_never_redirected_to_add_a_slash(client, world, api_key):
    _, key = api_key()
    for address in ["/api/no-such-post", "/api/no-such-post/", "/api/feature", "/api/nothing/here"]:
        response = client.post(address, {}, content_type="application/json", headers={"X-Api-Key": key})
        assert response.status_code == 404, address  # answered (no 301 that would turn the POST into a GET)
    for address in ["/api/steer", "/api/steer/"]:  # a real route, with or without the slash: its own 400
        assert client.post(address, {}, content_type="application/json").status_code == 400, address
    created = client.post("/api/features/tiny/1-mlp/0/explanations/", {"text": "ok"}, content_type="application/json")
    assert created.status_code == 401


def test_the_openapi_schema_and_docs_are_served(client):
    response = client.get("/api/openapi.json")
    assert response.status_code == 200
    schema = json.loads(response.content)
    assert schema["openapi"].startswith("3.") and schema["info"]["title"] == "Featurepedia API"
    paths = schema["paths"]
    for address in [*READS, "/api/explanations/{explanation_id}/vote"]:
        templated = address.replace("tiny", "{model}").replace("1-mlp", "{source}").replace("/0", "/{index}")
        assert templated in paths, templated
    assert not [p for p in paths if p.endswith("/")]  # the slash twins stay out of the schema
    assert schema["components"]["securitySchemes"]["WriteKey"] == {"type": "apiKey", "in": "header",
                                                                   "name": "X-Api-Key"}
    vote = paths["/api/explanations/{explanation_id}/vote"]["post"]
    assert vote["security"] == [{"WriteKey": []}]
    assert vote["responses"]["default"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/Error"}
    assert "security" not in paths["/api/feature/{model}/{source}/{index}"]["get"]  # reads need no key
    docs = client.get("/api/docs")
    assert docs.status_code == 200 and b"/static/ninja/swagger-ui-bundle.js" in docs.content  # no CDN


def test_inputs_no_database_can_hold_are_refused_before_the_query(client, world, api_key):
    _, key = api_key()
    huge = assert_error_shape(client.get(f"/api/explanations/{2**64}"), 400)
    assert "less than or equal to" in huge["error"]
    assert_error_shape(client.get("/api/explanations/0"), 400)
    nul = client.post("/api/features/tiny/1-mlp/0/explanations", {"text": "cats\x00"},
                      content_type="application/json", headers={"X-Api-Key": key})
    assert "NUL character" in assert_error_shape(nul, 400)["error"]
    assert "NUL character" in assert_error_shape(client.get("/api/leaderboard?region=a%00b"), 400)["error"]


def test_a_post_to_an_unknown_address_is_a_404_not_a_csrf_refusal(world):
    client = Client(enforce_csrf_checks=True)  # as a real API client: no CSRF cookie or token
    body = assert_error_shape(client.post("/api/no/such/route", {}, content_type="application/json"), 404)
    assert "/api/no/such/route" in body["error"] or "no" in body["error"].lower()


def test_no_two_api_schemas_share_a_name():
    """ninja names OpenAPI components by class name: two schemas with one name would silently share one
    (an answer would then be checked against the other's fields)."""
    import importlib
    import pkgutil

    from ninja import Schema

    import featurepedia.web.api as package

    for info in pkgutil.walk_packages(package.__path__, package.__name__ + "."):
        importlib.import_module(info.name)

    def subclasses(cls):
        for sub in cls.__subclasses__():
            yield sub
            yield from subclasses(sub)

    ours = [c for c in subclasses(Schema) if c.__module__.startswith("featurepedia.web.api")]
    names = [c.__name__ for c in ours]
    assert len(names) == len(set(names)), sorted(n for n in names if names.count(n) > 1)
