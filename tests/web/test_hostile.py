"""Hostile input over every route: it is refused with a 4xx that says why, or stored and shown inert.

The set: HTML and JS, an attribute break-out, RTL overrides and zero-width characters, NUL, invalid UTF-8,
a 100 kB string, SQL-looking text and path traversal. It goes into corpus text (clue tokens), explanations,
usernames and display names, custom text (live test text, steering prompts), search queries and API
bodies, and is sent to every page route (found from the URL resolver) and every API operation (found from
the OpenAPI schema) as query parameters, form fields and JSON bodies.

What must hold for every answer: no server error; an HTML answer never contains the markup live (only
escaped); a JSON error is the API's error shape; what was stored before is still there; and nothing with a
NUL, a control character or a direction override is stored from a user's text. The web tests run again on
PostgreSQL in `make test`, where a NUL reaching a text column would be a 500.
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver

from featurepedia.web.api.app import api
from featurepedia.web.catalog.models import ActivationExample, Feature
from featurepedia.web.explanations.models import Explanation, Vote
from featurepedia.web.game.models import Profile
from featurepedia.web.text_rules import storable

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fresh_cache")]

SCRIPT = '<script>alert("fp")</script>'
PAYLOADS: dict[str, str] = {
    "html": f'{SCRIPT}<img src=x onerror=alert("fp")><a href="javascript:alert(1)">x</a>',
    "attribute": '" autofocus onfocus="alert(1)" x="',
    "bidi": "admin\u202egnp.exe\u2066x\u2069",
    "zero-width": "a\u200bd\u200cm\u200di\ufeffn",
    "nul": "before\x00after",
    "big": "word " * 20_000,
    "sql": "'; DROP TABLE catalog_feature; -- \" OR 1=1",
    "traversal": "../../../../etc/passwd",
}
# Markup that would be live if it came out unescaped (what the payloads above would produce).
LIVE_MARKUP = ("<script>alert(", "<img src=x onerror", 'href="javascript:', 'onfocus="alert(1)"',
               '<script>alert("x")', "<img src=x onerror=alert(1)>")
# Characters that must never be stored from a user's text: NUL and other controls, direction overrides.
FORBIDDEN = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\u202a-\u202e\u2066-\u2069]")
# Query parameters and form fields the site reads somewhere; each gets the payload.
FIELDS = ("q", "query", "text", "prompt", "page", "index", "source", "model", "period", "country", "region",
          "method", "reveal", "next", "kind", "explanation", "note", "value", "name", "display_name", "pick",
          "better", "a", "b", "target", "date", "texts", "action", "strength", "feature", "layer")
OK_STATUSES = {200, 201, 204, 301, 302, 303, 400, 403, 404, 405, 409, 413, 422, 429, 503}


def assert_inert(response: Any, where: str) -> None:
    assert response.status_code in OK_STATUSES, f"{where}: status {response.status_code}"
    body = response.content.decode("utf-8", "replace")
    kind = response.get("Content-Type", "")
    if "html" in kind:
        for markup in LIVE_MARKUP:
            assert markup not in body, f"{where}: {markup!r} is live in the page"
    if kind.startswith("application/json") and response.status_code >= 400 and where.startswith("/api/"):
        error = json.loads(body)
        assert error["ok"] is False and error["status"] == response.status_code and error["error"], where


def page_routes() -> list[str]:
    """Every page route (not admin, not the API, not allauth's), with real ids of the hostile world."""
    found: list[str] = []

    def walk(patterns: list[Any], prefix: str) -> None:
        for p in patterns:
            route = prefix + str(p.pattern)
            if isinstance(p, URLResolver):
                if route.startswith(("admin/", "api/", "accounts/")):
                    continue
                walk(p.url_patterns, route)
            elif isinstance(p, URLPattern):
                found.append(route)

    walk(get_resolver().url_patterns, "")
    return found


def fill(route: str, ids: dict[str, Any]) -> str:
    def value(match: re.Match[str]) -> str:
        name = match.group(2)
        return str(ids.get(name, 1))
    return "/" + re.sub(r"<(?:(\w+):)?(\w+)>", value, route).lstrip("^").rstrip("$")


@pytest.fixture
def hostile(world, make_user):
    """The web tests' world, with hostile text already stored: in clue tokens, explanations and names."""
    feature = world["features"][0]
    rows = []
    for rank, payload in enumerate(PAYLOADS.values()):
        # As the build's sink stores them (a NUL written out: PostgreSQL cannot hold one).
        tokens = [storable(t) for t in ("<s>", " The", f" {payload[:2000]}", " end")]
        rows.append(ActivationExample(feature=feature, bin="q2", rank=rank, tokens=tokens,
                                      token_ids=list(range(len(tokens))), values=[0.0, 0.1, 1.0, 0.2],
                                      max_value=1.0, max_index=2))
    ActivationExample.objects.bulk_create(rows)
    author = make_user("author")
    # Stored the way an older version or an import could have: straight into the table.
    Profile.objects.filter(user=author).update(display_name=PAYLOADS["html"][:40])
    Explanation.objects.create(feature=feature, author=author, text=PAYLOADS["html"], method="human")
    Explanation.objects.create(feature=world["features"][1], author=author, text=PAYLOADS["bidi"], method="human")
    player = make_user("player")
    from featurepedia.web.accounts.keys import create_key
    _row, key = create_key(player, "hostile tests")
    ids = {"model": "tiny", "source": "1-mlp", "index": 0, "campaign": world["campaign"].slug,
           "feature_id": feature.pk, "explanation_id": Explanation.objects.first().pk,
           "pk": Explanation.objects.first().pk, "round_id": 1}
    return {**world, "player": player, "ids": ids, "api": Client(headers={"X-Api-Key": key})}


def stored_counts() -> tuple[int, int, int]:
    return Explanation.objects.count(), Vote.objects.count(), Feature.objects.count()


def assert_nothing_forbidden_stored() -> None:
    for text in Explanation.objects.values_list("text", flat=True):
        assert not FORBIDDEN.search(text) or text == PAYLOADS["bidi"], f"stored explanation {text[:60]!r}"
    for name in Profile.objects.values_list("display_name", flat=True):
        assert not FORBIDDEN.search(name), f"stored display name {name!r}"


@pytest.mark.parametrize("signed_in", [False, True], ids=["visitor", "player"])
def test_every_page_shows_stored_hostile_text_inert(hostile, signed_in):
    client = Client()
    if signed_in:
        client.force_login(hostile["player"])
    for route in page_routes():
        path = fill(route, hostile["ids"])
        response = client.get(path)
        assert_inert(response, path)
    page = client.get("/tiny/1-mlp/0").content.decode()
    assert "&lt;script&gt;alert(" in page  # the stored clue and explanation are there, escaped


@pytest.mark.parametrize("name", list(PAYLOADS))
def test_every_page_route_takes_hostile_query_and_form_input(hostile, name):
    payload = PAYLOADS[name]
    client = Client()
    client.force_login(hostile["player"])
    before = stored_counts()
    for route in page_routes():
        path = fill(route, hostile["ids"])
        params = {field: payload for field in FIELDS}
        assert_inert(client.get(path, params), f"GET {path} ({name})")
        assert_inert(client.post(path, params), f"POST {path} ({name})")
    after = stored_counts()
    assert after[0] >= before[0] and after[2] == before[2], "stored rows were lost"
    assert_nothing_forbidden_stored()


def test_invalid_utf8_in_query_strings_and_bodies(hostile):
    client = Client()
    client.force_login(hostile["player"])
    for route in page_routes():
        path = fill(route, hostile["ids"])
        assert_inert(client.get(path + "?q=%ff%fe&text=%c3%28&page=%80"), f"GET {path} (invalid utf-8)")
        response = client.generic("POST", path, b"text=%ff%fe&note=%c3%28",
                                  content_type="application/x-www-form-urlencoded")
        assert_inert(response, f"POST {path} (invalid utf-8)")


def test_path_traversal_and_sql_in_slugs_are_not_found(hostile):
    client = Client()
    for path in ("/../../etc/passwd", "/tiny/..%2F..%2Fetc%2Fpasswd/", "/tiny/1-mlp/..%2f..%2fsettings.py",
                 "/%2e%2e/%2e%2e/etc/passwd", "/tiny'%20OR%201=1--/1-mlp/0", "/api/feature/tiny/..%2F..%2F/0",
                 "/api/models/..%2F..%2Fetc/sources", "/api/feature/tiny'%20OR%20'1'='1/1-mlp/0",
                 "/static/../settings.py", "/play/..%2F..%2F/1"):
        response = client.get(path)
        assert response.status_code in (301, 302, 400, 404), f"{path}: {response.status_code}"
        assert b"root:" not in response.content and b"SECRET_KEY" not in response.content


# --- the API, from its schema -----------------------------------------------------------------------------

SCHEMA = api.get_openapi_schema(path_prefix="/api/")


def _resolve(node: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in node:
        node = SCHEMA["components"]["schemas"][node["$ref"].rsplit("/", 1)[-1]]
    for combo in ("anyOf", "oneOf", "allOf"):
        if combo in node:
            options = [_resolve(o) for o in node[combo] if o.get("type") != "null"]
            return options[0] if options else {"type": "null"}
    return node


def body_for(node: dict[str, Any], payload: str, depth: int = 0) -> Any:
    """A body of the schema's shape whose every string is the payload (numbers valid, lists of one)."""
    node = _resolve(node)
    kind = node.get("type")
    if kind == "object" or "properties" in node:
        if depth > 4:
            return {}
        return {k: body_for(v, payload, depth + 1) for k, v in node.get("properties", {}).items()}
    if kind == "array":
        return [body_for(node.get("items", {}), payload, depth + 1)]
    if kind == "integer":
        return 0
    if kind == "number":
        return 0.5
    if kind == "boolean":
        return False
    if "enum" in node:
        return node["enum"][0]
    return payload


def api_operations() -> list[tuple[str, str, dict[str, Any]]]:
    return [(method.upper(), path, op) for path, ops in SCHEMA["paths"].items() for method, op in ops.items()]


def api_path(path: str, ids: dict[str, Any], payload: str | None) -> str:
    def value(match: re.Match[str]) -> str:
        name = match.group(1)
        if payload is not None and name in ("model", "source"):
            from urllib.parse import quote
            return quote(payload[:200], safe="")
        return str(ids.get(name, ids["explanation_id"] if name.endswith("_id") else 0))
    return re.sub(r"\{(\w+)\}", value, path)


@pytest.mark.parametrize("name", list(PAYLOADS))
def test_every_api_operation_takes_hostile_bodies_and_parameters(hostile, name, settings):
    settings.FEATUREPEDIA_RATE_LIMITS_ENABLED = False
    payload = PAYLOADS[name]
    client = hostile["api"]
    before = stored_counts()
    for method, path, op in api_operations():
        for in_path in (None, payload):
            url = api_path(path, hostile["ids"], in_path)
            params = {p["name"]: payload for p in op.get("parameters", []) if p.get("in") == "query"}
            if method == "GET":
                response = client.get(url, params)
            else:
                content = op.get("requestBody", {}).get("content", {}).get("application/json", {})
                body = body_for(content.get("schema", {}), payload)
                response = client.post(url + "?" + "&".join(f"{k}=x" for k in params), json.dumps(body),
                                       content_type="application/json")
            assert_inert(response, f"{method} {url} ({name})")
    after = stored_counts()
    assert after[0] >= before[0] and after[2] == before[2], "stored rows were lost"
    assert_nothing_forbidden_stored()


def test_api_bodies_that_are_not_json_or_not_utf8(hostile):
    client = hostile["api"]
    for method, path, _op in api_operations():
        if method != "POST":
            continue
        url = api_path(path, hostile["ids"], None)
        for raw in (b'{"text": "\xff\xfe"}', b"\xff\xfe\x00", b'{"text": "a\\u0000b"}', b"{not json",
                    b"[" * 5000, b'"' + b"x" * 100_000 + b'"'):
            response = client.generic("POST", url, raw, content_type="application/json")
            assert_inert(response, f"POST {url} ({raw[:12]!r})")


# --- writes through the front doors -------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["nul", "bidi", "html", "big", "zero-width"])
def test_an_explanation_with_hostile_text_is_refused_with_a_reason_or_stored_inert(hostile, name):
    client = Client()
    client.force_login(hostile["player"])
    feature = hostile["features"][2]
    payload = PAYLOADS[name]
    response = client.post(f"/features/{feature.pk}/explain", {"text": f"cities and {payload}"}, follow=True)
    assert_inert(response, f"explain ({name})")
    stored = Explanation.objects.filter(feature=feature).first()
    if name in ("nul", "bidi", "big"):
        assert stored is None
        page = response.content.decode()
        # A NUL is refused before any view (no field takes one), other characters by the form.
        says = {"nul": "contains a NUL character (%00)", "bidi": "a text-direction override (U+202E",
                "big": "Keep it under"}[name]
        assert says in page, page[:3000]
    else:
        assert stored is not None and not FORBIDDEN.search(stored.text)
        page = Client().get("/tiny/1-mlp/2").content.decode()
        assert_inert(Client().get("/tiny/1-mlp/2"), "feature page")
        assert "cities and" in page


@pytest.mark.parametrize("name", ["nul", "bidi", "zero-width", "html"])
def test_hostile_display_names_and_usernames(hostile, name):
    client = Client()
    client.force_login(hostile["player"])
    payload = PAYLOADS[name][:40]
    response = client.post("/me/settings", {"display_name": payload, "country": "", "region": ""})
    assert_inert(response, f"settings ({name})")
    stored = Profile.objects.get(user=hostile["player"]).display_name
    assert not FORBIDDEN.search(stored)
    if name in ("nul", "bidi", "zero-width"):
        assert stored == "", "a name with control, direction or invisible characters was stored"
    signup = Client().post("/accounts/signup/", {"username": payload, "email": "x@example.org",
                                                 "password1": "long-Passw0rd!", "password2": "long-Passw0rd!"})
    assert_inert(signup, f"signup ({name})")
    from django.contrib.auth import get_user_model
    for username in get_user_model().objects.values_list("username", flat=True):
        assert not FORBIDDEN.search(username) and "<" not in username and "\u200b" not in username


# --- the rules themselves ----------------------------------------------------------------------------------

def test_the_text_rules_name_the_refused_character_and_write_out_invisible_ones():
    from featurepedia.web import text_rules
    from featurepedia.web.catalog.display import render_tokens

    assert text_rules.problem("plain words, «quotes», emoji 👩‍💻 and تشکیل") is None
    assert "U+202E right-to-left override" in text_rules.problem("abc\u202edef")
    assert "position 4" in text_rules.problem("abc\x07")
    assert text_rules.problem("a\u200bb") is None  # allowed in explanations (joiners are real in scripts)
    assert "an invisible character (U+200B zero width space)" in text_rules.problem("a\u200bb", name=True)
    with pytest.raises(text_rules.TextError, match="^A key's name cannot be stored: it contains a control"):
        text_rules.check("x\x00", "a key's name")
    assert text_rules.visible_token(" a\u202eb\u200b\n") == " a⟨U+202E⟩b⟨U+200B⟩↵"
    assert text_rules.storable("a\x00b") == "a⟨U+0000⟩b"
    html = str(render_tokens([" x\u202e", " y"], [1.0, 0.0], {}, 1.0))
    assert "\u202e" not in html and "⟨U+202E⟩" in html
