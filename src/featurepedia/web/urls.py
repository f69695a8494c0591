"""URL routes: admin, the catalog (models, sources, feature pages)."""

from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("admin/", admin.site.urls),
    path("", include("featurepedia.web.catalog.urls")),
]
