"""The API object: its error handlers, its rate limit, and one line per router.

Served under /api/ (urls.py), with its OpenAPI schema at /api/openapi.json and docs at /api/docs.
"""

from __future__ import annotations

from typing import Any

from ninja import NinjaAPI

from featurepedia.web.api import handlers
from featurepedia.web.api.ratelimit import FixedWindowLimit
from featurepedia.web.api.routes import (
    activations,
    attribution,
    catalog,
    community,
    explanation_search,
    explanations,
    feature,
    game,
    oddone,
    predict,
    search,
    steering,
    versus,
)

DESCRIPTION = """\
Featurepedia's public API.

**Neuronpedia-compatible routes** (singular names, e.g. `GET /api/feature/{model}/{source}/{index}`) answer in
Neuronpedia's shapes and field names, so the `neuronpedia` Python client works against this site
(`USE_LOCALHOST=true` with `featurepedia serve --port 3000`). **Our own routes** (plural names: `/api/models`,
`/api/features/...`, `/api/explanations/...`, `/api/campaigns`, `/api/leaderboard`, `/api/attribution`, `/api/predict/...`, `/api/daily`, `/api/compare`, `/api/versus/...`, `/api/odd-one-out/...`) use snake_case and are paged
with `limit` and `offset`.

Every route also answers with a trailing slash. Reading, live activations, search and steering need no key. Writing (explanations, votes, predictions, This-vs-That choices, Odd-one-out answers) needs an
API key, made on your profile page and sent as `X-Api-Key`; a missing or unknown key is simply anonymous.
Requests are rate-limited per key, or per address without one (429 with `Retry-After`).

Every error is `{"ok": false, "error": "what was wrong and how to fix it", "status": N}`.
"""

ERROR_SCHEMA = {
    "type": "object", "required": ["ok", "error", "status"],
    "properties": {"ok": {"type": "boolean", "const": False},
                   "error": {"type": "string", "description": "what was wrong and how to fix it"},
                   "status": {"type": "integer", "description": "the HTTP status, repeated"}},
}


class FeaturepediaAPI(NinjaAPI):
    """ninja's API with the one error shape documented as every operation's other responses."""

    def get_openapi_schema(self, *args: Any, **kwargs: Any) -> Any:
        schema = super().get_openapi_schema(*args, **kwargs)
        schema.setdefault("components", {}).setdefault("schemas", {})["Error"] = ERROR_SCHEMA
        error = {"description": "an error, in the one error shape",
                 "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
        for operations in schema.get("paths", {}).values():
            for operation in operations.values():
                operation.setdefault("responses", {}).setdefault("default", error)
        return schema


api = FeaturepediaAPI(title="Featurepedia API", version="1", description=DESCRIPTION, urls_namespace="api",
               throttle=[FixedWindowLimit()])
handlers.install(api)

api.add_router("", feature.router)
api.add_router("", catalog.router)
api.add_router("", explanations.router)
api.add_router("", game.router)
api.add_router("", predict.router)
api.add_router("", activations.router)
api.add_router("", search.router)
api.add_router("", steering.router)
api.add_router("", attribution.router)
api.add_router("", explanation_search.router)
api.add_router("", versus.router)
api.add_router("", oddone.router)
api.add_router("", community.router)
