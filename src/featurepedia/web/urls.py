"""URL routes: health checks, admin, the API, accounts, the game, explanation actions, live pages, then the catalog (its /{model}/ catch-all last)."""

from django.contrib import admin
from django.urls import include, path

from featurepedia.web import health

urlpatterns = [
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    path("admin/", admin.site.urls),
    path("api/", include("featurepedia.web.api.urls")),
    path("", include("featurepedia.web.accounts.urls")),
    path("", include("featurepedia.web.game.urls")),
    path("", include("featurepedia.web.explanations.urls")),
    path("", include("featurepedia.web.live.urls")),
    path("", include("featurepedia.web.catalog.urls")),
]

# Unknown addresses and crashes under /api/ answer in the API's JSON error shape (see web/errors.py).
handler404 = "featurepedia.web.errors.not_found"
handler500 = "featurepedia.web.errors.server_error"
