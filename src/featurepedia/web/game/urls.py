"""Game routes: /play/..., /leaderboard/, /contests/..., /how-scoring/, /predict/..., /daily/..., /compare/, /versus/..., /odd-one-out/..."""

from django.urls import path

from featurepedia.web.game import (
    contest_views,
    daily_views,
    embed_views,
    oddone_views,
    predict_views,
    versus_views,
    views,
)

urlpatterns = [
    path("play/", views.play, name="play"),
    path("contests/", contest_views.contest_list, name="contests"),
    path("contests/<slug:slug>/", contest_views.contest_page, name="contest"),
    path("how-scoring/", contest_views.how_scoring, name="how-scoring"),
    path("embed/<slug:model>/<slug:source>/<int:index>", embed_views.feature_card, name="embed-feature"),
    path("play/onboarding", views.onboarding, name="onboarding"),
    path("play/<slug:campaign>/", views.campaign_play, name="campaign-play"),
    path("play/<slug:campaign>/<int:feature_id>", views.puzzle, name="puzzle"),
    path("play/<slug:campaign>/<int:feature_id>/answer", views.answer, name="answer"),
    path("leaderboard/", views.leaderboard, name="leaderboard"),
    # Predict-the-activations, the daily puzzle, and people against machines (predict_views, daily_views).
    path("predict/", predict_views.predict_start, name="predict"),
    path("predict/<slug:campaign>/", predict_views.predict_campaign, name="predict-campaign"),
    path("predict/<slug:campaign>/<int:explanation_id>", predict_views.predict_puzzle, name="predict-puzzle"),
    path("predict/<slug:campaign>/<int:explanation_id>/answer", predict_views.predict_answer, name="predict-answer"),
    path("predict/<slug:campaign>/<int:explanation_id>/skip", predict_views.predict_skip, name="predict-skip"),
    path("daily/", daily_views.daily_start, name="daily"),
    path("daily/<slug:campaign>/", daily_views.daily_page, name="daily-campaign"),
    path("daily/<slug:campaign>/answer", daily_views.daily_answer, name="daily-answer"),
    path("compare/", predict_views.compare_page, name="compare"),
    # This-vs-That and Odd-one-out (versus_views.py, oddone_views.py)
    path("versus/", versus_views.start, name="versus"),
    path("versus/<slug:campaign>/", versus_views.play, name="versus-play"),
    path("versus/<slug:campaign>/answer", versus_views.answer, name="versus-answer"),
    path("odd-one-out/", oddone_views.start, name="oddone"),
    path("odd-one-out/<slug:campaign>/", oddone_views.play, name="oddone-play"),
    path("odd-one-out/<slug:campaign>/<int:round_id>/answer", oddone_views.answer, name="oddone-answer"),
    path("odd-one-out/<slug:campaign>/<int:round_id>", oddone_views.result, name="oddone-result"),
]
