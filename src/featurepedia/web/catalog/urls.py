"""Catalog routes: /, /{model}/, /{model}/{source}/, /{model}/{source}/{index}."""

from django.urls import path
from django.views.generic import RedirectView

from featurepedia.web.catalog import views

urlpatterns = [
    path("", views.home, name="home"),
    path("<slug:model>/", views.model_page, name="model"),
    path("<slug:model>/<slug:source>/", views.source_page, name="source"),
    path("<slug:model>/<slug:source>/random", views.random_feature, name="random-feature"),
    path("<slug:model>/<slug:source>/<int:index>", views.feature_page, name="feature"),
    path("<slug:model>/<slug:source>/<int:index>/examples/<slug:group>", views.feature_group, name="feature-group"),
    # Feature addresses have no trailing slash (as on Neuronpedia); one typed with it is sent to the real one.
    path("<slug:model>/<slug:source>/random/", RedirectView.as_view(pattern_name="random-feature", query_string=True)),
    path("<slug:model>/<slug:source>/<int:index>/",
         RedirectView.as_view(pattern_name="feature", permanent=True, query_string=True)),
]
