"""Live routes: /search/, /steer/, and the partials of a feature page's "test your own text" box."""

from django.urls import path

from featurepedia.web.live import views

urlpatterns = [
    path("search/", views.search, name="search"),
    path("search/token", views.search_token, name="search-token"),
    path("steer/", views.steer, name="steer"),
    path("live/<slug:model>/<slug:source>/<int:index>/test", views.test_text, name="live-test"),
    path("live/<slug:model>/<slug:source>/<int:index>/attribution", views.attribution, name="live-attribution"),
]
