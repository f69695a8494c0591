"""Game routes: /play/..., /versus/..., /odd-one-out/..., /leaderboard/."""

from django.urls import path

from featurepedia.web.game import oddone_views, versus_views, views

urlpatterns = [
    path("play/", views.play, name="play"),
    path("play/onboarding", views.onboarding, name="onboarding"),
    path("play/<slug:campaign>/", views.campaign_play, name="campaign-play"),
    path("play/<slug:campaign>/<int:feature_id>", views.puzzle, name="puzzle"),
    path("play/<slug:campaign>/<int:feature_id>/answer", views.answer, name="answer"),
    path("leaderboard/", views.leaderboard, name="leaderboard"),
    # This-vs-That and Odd-one-out (versus_views.py, oddone_views.py)
    path("versus/", versus_views.start, name="versus"),
    path("versus/<slug:campaign>/", versus_views.play, name="versus-play"),
    path("versus/<slug:campaign>/answer", versus_views.answer, name="versus-answer"),
    path("odd-one-out/", oddone_views.start, name="oddone"),
    path("odd-one-out/<slug:campaign>/", oddone_views.play, name="oddone-play"),
    path("odd-one-out/<slug:campaign>/<int:round_id>/answer", oddone_views.answer, name="oddone-answer"),
    path("odd-one-out/<slug:campaign>/<int:round_id>", oddone_views.result, name="oddone-result"),
]
