"""Account routes: allauth's (sign up, sign in, e-mail, social) under /accounts/, and /me/."""

from django.urls import include, path

from featurepedia.web.accounts import views

urlpatterns = [
    path("accounts/", include("allauth.urls")),
    path("me/", views.profile, name="profile"),
    path("me/settings", views.settings_page, name="settings"),
    path("me/api-keys", views.create_api_key, name="api-key-create"),
    path("me/api-keys/<int:pk>/revoke", views.revoke_api_key, name="api-key-revoke"),
]
