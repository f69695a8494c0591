"""Game routes: /play/..., /leaderboard/."""

from django.urls import path

from featurepedia.web.game import views

urlpatterns = [
    path("play/", views.play, name="play"),
    path("play/onboarding", views.onboarding, name="onboarding"),
    path("play/<slug:campaign>/", views.campaign_play, name="campaign-play"),
    path("play/<slug:campaign>/<int:feature_id>", views.puzzle, name="puzzle"),
    path("play/<slug:campaign>/<int:feature_id>/answer", views.answer, name="answer"),
    path("leaderboard/", views.leaderboard, name="leaderboard"),
]
