"""Explanation actions (/explanations/<id>/vote|report|publish|delete, /features/<id>/explain) and the
explanation search page (/search/explanations/)."""

from django.urls import path

from featurepedia.web.explanations import map_views, search_page, views

urlpatterns = [
    path("explanations/<int:pk>/vote", views.vote, name="explanation-vote"),
    path("explanations/<int:pk>/report", views.report, name="explanation-report"),
    path("explanations/<int:pk>/publish", views.publish_draft, name="draft-publish"),
    path("explanations/<int:pk>/delete", views.delete_draft, name="draft-delete"),
    path("features/<int:feature_id>/explain", views.write, name="explanation-write"),
    path("search/explanations/", search_page.explanation_search, name="explanation-search"),
    path("<slug:model>/<slug:source>/map", map_views.map_page, name="source-map"),
    path("<slug:model>/<slug:source>/map.json", map_views.map_data, name="source-map-data"),
]
