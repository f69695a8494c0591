"""Accounts: sign-up with e-mail confirmation, social buttons only when configured, profile, settings."""

from __future__ import annotations

import pytest
from django.core import mail
from django.urls import reverse

from featurepedia.web.accounts.config import enabled_providers

pytestmark = pytest.mark.django_db


def test_signup_sends_a_confirmation_and_confirming_works(client):
    response = client.post(reverse("account_signup"), {"email": "sam@example.org", "password1": "a-long-pass-phrase"})
    assert response.status_code == 302
    assert len(mail.outbox) == 1 and "sam@example.org" in mail.outbox[0].to
    link = next(w for w in mail.outbox[0].body.split() if "/accounts/confirm-email/" in w)
    client.get(link[link.index("/accounts/"):], follow=True)
    from allauth.account.models import EmailAddress
    assert EmailAddress.objects.get(email="sam@example.org").verified


def test_signup_errors_are_clear(client):
    bad = client.post(reverse("account_signup"), {"email": "not-an-email", "password1": "x"})
    html = bad.content.decode()
    assert bad.status_code == 200 and "valid email" in html.lower()


def test_social_buttons_hidden_without_credentials(client, monkeypatch):
    assert enabled_providers() == []
    html = client.get(reverse("account_login")).content.decode()
    assert "GitHub" not in html and "Google" not in html and "Apple" not in html
    from featurepedia.settings import reset_settings

    monkeypatch.setenv("FEATUREPEDIA_GITHUB_CLIENT_ID", "id")
    monkeypatch.setenv("FEATUREPEDIA_GITHUB_SECRET", "s")
    reset_settings()
    try:
        assert enabled_providers() == ["github"]
        monkeypatch.delenv("FEATUREPEDIA_GITHUB_SECRET")
        reset_settings()
        assert enabled_providers() == []
    finally:
        monkeypatch.undo()
        reset_settings()


def test_profile_needs_sign_in_and_shows_points(client, make_user, world):
    assert client.get(reverse("profile")).status_code == 302
    client.force_login(make_user("erin"))
    html = client.get(reverse("profile")).content.decode()
    assert "erin" in html and "Points" in html and "50 of 50 left today" in html


def test_settings_for_players_and_visitors(client, make_user):
    client.post(reverse("settings"), {"advanced_mode": "on"})
    assert client.session["prefs"]["advanced_mode"] is True
    user = make_user("finn")
    client.force_login(user)
    bad = client.post(reverse("settings"), {"country": "Britain", "display_name": "Finn"})
    assert bad.status_code == 400 and "two-letter country code" in bad.content.decode()
    assert client.post(reverse("settings"), {"country": "XX"}).status_code == 400  # two letters, no country
    assert '<option value="GB">United Kingdom</option>' in client.get(reverse("settings")).content.decode()
    client.post(reverse("settings"), {"country": "gb", "region": "Kent", "display_name": "Finn",
                                      "explicit_filter": "on", "blind_mode": "on"})
    user.profile.refresh_from_db()
    assert (user.profile.country, user.profile.region, user.profile.explicit_filter) == ("GB", "Kent", True)


def _signup_through_a_proxy(host: str, proto: str):
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    headers = {"HTTP_HOST": host, "HTTP_X_FORWARDED_PROTO": proto}
    page = client.get(reverse("account_signup"), **headers)
    token = page.cookies["csrftoken"].value
    return client.post(reverse("account_signup"), {"email": "pat@example.org", "password1": "a-long-pass-phrase",
                                                   "csrfmiddlewaretoken": token},
                       HTTP_ORIGIN=f"https://{host}", HTTP_REFERER=f"https://{host}/accounts/signup/", **headers)


def test_forms_work_behind_a_tls_proxy_when_the_public_url_is_set(settings):
    from featurepedia.web.settings import behind_proxy

    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "fp.example.org"]
    # Without it, a form posted from https://fp.example.org reaches the site as plain http: CSRF refuses it.
    assert _signup_through_a_proxy("fp.example.org", "https").status_code == 403
    for name, value in behind_proxy("https://fp.example.org").items():
        setattr(settings, name, value)
    response = _signup_through_a_proxy("fp.example.org", "https")
    assert response.status_code == 302
    assert response.cookies["sessionid"]["secure"]
    link = next(w for w in mail.outbox[-1].body.split() if "/accounts/confirm-email/" in w)
    assert link.startswith("https://fp.example.org/accounts/confirm-email/")  # links in e-mails use https
