"""Catalog routes: /, /{model}/, /{model}/{source}/, /{model}/{source}/{index}."""

from django.urls import path

from featurepedia.web.catalog import views

urlpatterns = [
    path("", views.home, name="home"),
    path("<slug:model>/", views.model_page, name="model"),
    path("<slug:model>/<slug:source>/", views.source_page, name="source"),
    path("<slug:model>/<slug:source>/random", views.random_feature, name="random-feature"),
    path("<slug:model>/<slug:source>/<int:index>", views.feature_page, name="feature"),
]
