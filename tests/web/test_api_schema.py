"""schemathesis over every operation of the API's OpenAPI schema, in process, on the pool's tiny-gpt2.

Each operation gets generated requests, valid and invalid, sent through Django's WSGI handler with a valid
API key (so writes run too) and rate limits off (so a 429 cannot hide a bug). What must hold: no answer is a
server error, every answer other than 2xx is in the one error shape, and answers match the schema.

Generated names (models, sources) would almost never name something in the catalog, so most are replaced by
the tiny catalog's (a deterministic function of the generated value, so hypothesis still shrinks and replays)
and the live routes really run inference.
"""

from __future__ import annotations

import json
import zlib
from typing import Any

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from hypothesis import HealthCheck, settings
from schemathesis import Case
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from featurepedia.inference.client import LocalClient
from featurepedia.lm.pool import POOL, model_key
from featurepedia.settings import reset_settings
from featurepedia.web.api.app import api
from featurepedia.web.catalog.models import Feature, LanguageModel, Source
from featurepedia.web.explanations.models import Explanation
from tests.inference.test_clients import CHAT, chat_model
from tests.web.test_api_live import MODEL, make_tiny_catalog

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fresh_cache")]

schema = schemathesis.openapi.from_dict(api.get_openapi_schema(path_prefix="/api/"))
schema.app = get_wsgi_application()

SOURCES = ("0-mlp", "1-mlp")
NAMES = ("modelId", "model", "source", "layer")
TEXTS = ("text", "prompt", "content", "customText")
ROLES = ("system", "user", "assistant")
# New tokens per steering run: short, for time (past the tiny model's context window is a 400, tested in
# test_api_live.py).
MAX_NEW = 24


def _pick(value: object) -> int:
    return zlib.crc32(json.dumps(value, default=str).encode())


def _catalog_names(data: Any, model: str) -> Any:
    """Most names (modelId, source, layer) replaced by the tiny catalog's, a feature reference without a
    source given one, most empty texts filled, chat roles made valid and n_tokens kept small.

    One in five of each is kept as generated, for the paths that refuse them.
    """
    if isinstance(data, list):
        return [_catalog_names(v, model) for v in data]
    if not isinstance(data, dict):
        return data
    out = {k: _catalog_names(v, model) for k, v in data.items()}
    if "index" in out and out.get("source") is None and out.get("layer") is None and _pick(out) % 5:
        out["layer"] = SOURCES[_pick(out) % 2]
    for k in TEXTS:  # hypothesis likes "" best, which the service refuses before any inference
        if out.get(k) == "" and _pick(out) % 5:
            out[k] = "The quick brown fox"
    n = out.get("n_tokens")
    if isinstance(n, int) and MAX_NEW < n <= 256:  # keeps the run to minutes
        out["n_tokens"] = 1 + n % MAX_NEW
    if "role" in out and out["role"] not in ROLES and _pick(out) % 5:
        out["role"] = ROLES[_pick(out) % 3]
    for k in NAMES:
        if isinstance(out.get(k), str) and _pick(out[k]) % 5:
            out[k] = model if k.startswith("model") else SOURCES[_pick([out[k], k]) % 2]
    return out


@schemathesis.check
def error_shape(ctx: Any, response: Any, case: Case) -> bool | None:
    """Every answer that is not a success is ``{"ok": false, "error": "...", "status": N}`` with N its status."""
    if response.status_code < 400:
        return None
    assert response.headers.get("content-type", [""])[0].startswith("application/json"), response.headers
    body = json.loads(response.content)
    assert isinstance(body, dict) and body.get("ok") is False, body
    assert body.get("status") == response.status_code, body
    assert isinstance(body.get("error"), str) and body["error"], body
    return True


CHECKS = [not_a_server_error, error_shape, status_code_conformance, content_type_conformance,
          response_schema_conformance]


@pytest.fixture
def fuzzed(monkeypatch, api_key, make_user, no_embeddings):
    """The tiny catalog (and a chat model's) with a few explanations, their in-process inference, no rate
    limits, and a writer's key."""
    monkeypatch.setenv("FEATUREPEDIA_API_RATE_ANONYMOUS", "0")
    monkeypatch.setenv("FEATUREPEDIA_API_RATE_KEY", "0")
    reset_settings()
    make_tiny_catalog()
    author = make_user("author")
    for feature in Feature.objects.all()[:3]:
        Explanation.objects.create(feature=feature, text=f"explains {feature.index}", author=author)
    key = model_key(CHAT)
    POOL.get(key, chat_model)
    chat = LanguageModel.objects.create(slug=CHAT, name="Tiny chat")
    Source.objects.create(model=chat, slug="1-mlp", kind="neurons", hook_name="blocks.1.mlp.hook_post",
                          n_features=256, status="ready")
    client = LocalClient(allow_model=lambda m: m in (MODEL, CHAT), queue_size=8)
    # The WSGI handler closes the database connection after each request (request_finished); inside the
    # test's transaction that breaks the next request on PostgreSQL. Django's own test client detaches the
    # same handler for the same reason.
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    monkeypatch.setattr("featurepedia.web.live.access.client", lambda: client)
    _, secret = api_key("fuzzer")
    # Django's GZipMiddleware would compress answers for the Accept-Encoding that schemathesis sends, and
    # its WSGI transport hands the bytes over undecoded.
    yield {"X-Api-Key": secret, "Accept-Encoding": "identity"}
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)
    client.close()
    POOL.release(key)
    monkeypatch.undo()
    reset_settings()


@schema.parametrize()
@settings(max_examples=15, deadline=None, derandomize=True, database=None,
          suppress_health_check=list(HealthCheck))
def test_every_operation_answers_without_server_errors_in_the_error_shape(case: Case, fuzzed):
    model = CHAT if case.operation.path.endswith("-chat") else MODEL
    if case.path_parameters:
        case.path_parameters = _catalog_names(case.path_parameters, model)
    if isinstance(case.body, dict | list):
        case.body = _catalog_names(case.body, model)
    response = case.call(headers=fuzzed)
    case.validate_response(response, checks=CHECKS)
