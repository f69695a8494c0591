"""Login brute force is throttled: per account, per address (X-Forwarded-For trusted only behind a proxy),
on the site's sign-in page and on the Django admin's."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

pytestmark = pytest.mark.django_db
TOO_MANY = "Too many failed login attempts"


@pytest.fixture(autouse=True)
def _fast_hashing(settings):
    """Dozens of sign-in attempts: a cheap password hash keeps the test fast (the limit does not depend on it)."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def member(make_user, fresh_cache):
    from allauth.account.models import EmailAddress

    user = make_user("mallory-target")
    EmailAddress.objects.create(user=user, email=user.email, verified=True, primary=True)
    return user


def _sign_in(client: Client, email: str, password: str, **headers: str) -> str:
    response = client.post(reverse("account_login"), {"login": email, "password": password}, **headers)
    return "signed-in" if response.status_code == 302 else response.content.decode()


def test_guessing_one_accounts_password_is_stopped_and_the_right_one_waits(member):
    attacker = Client()
    answers = [_sign_in(attacker, member.email, f"guess-{i}") for i in range(8)]
    assert all(TOO_MANY not in a for a in answers[:5]) and all(TOO_MANY in a for a in answers[5:])
    assert TOO_MANY in _sign_in(Client(), member.email, "pw-123456!")  # even the right password, for now


def test_one_address_trying_many_accounts_is_stopped(member):
    attacker = Client()
    answers = [_sign_in(attacker, f"user{i}@example.org", "guess") for i in range(12)]
    assert all(TOO_MANY not in a for a in answers[:10]) and all(TOO_MANY in a for a in answers[10:])


def test_forged_forwarded_addresses_do_not_escape_the_limit(member):
    answers = [_sign_in(Client(), f"user{i}@example.org", "guess", HTTP_X_FORWARDED_FOR=f"203.0.113.{i}")
               for i in range(12)]
    assert TOO_MANY in answers[-1]  # X-Forwarded-For is not trusted without a proxy in front


def test_behind_a_proxy_the_address_it_appended_counts(member, settings):
    settings.ALLAUTH_TRUSTED_PROXY_COUNT = 1  # what FEATUREPEDIA_PUBLIC_URL sets
    # Many players behind the proxy, each with their own address: none is throttled for the others' typos.
    answers = [_sign_in(Client(), f"user{i}@example.org", "typo", HTTP_X_FORWARDED_FOR=f"198.51.100.{i}")
               for i in range(12)]
    assert not any(TOO_MANY in a for a in answers)
    # One attacker forging the first entry: the proxy's own (last) entry is the same, so it is throttled.
    forged = [_sign_in(Client(), f"other{i}@example.org", "guess",
                       HTTP_X_FORWARDED_FOR=f"10.9.8.{i}, 192.0.2.7") for i in range(12)]
    assert TOO_MANY in forged[-1]


def test_the_admin_login_is_throttled_too(django_user_model, fresh_cache):
    admin = django_user_model.objects.create_superuser("root-admin", "admin@example.org", "admin-pw-123!")
    url = reverse("admin:login")
    attacker = Client()
    answers = [attacker.post(url, {"username": admin.username, "password": f"guess-{i}"}).content.decode()
               for i in range(7)]
    assert all(TOO_MANY not in a for a in answers[:5]) and TOO_MANY in answers[-1]
    assert TOO_MANY in Client().post(url, {"username": admin.username, "password": "admin-pw-123!"}).content.decode()

    fresh = Client()  # once the window has passed (here: the counters cleared), the admin signs in
    from django.core.cache import cache

    cache.clear()
    assert fresh.post(url, {"username": admin.username, "password": "admin-pw-123!"}).status_code == 302


@pytest.mark.services
@pytest.mark.django_db(transaction=True)
def test_guesses_sent_all_at_once_are_throttled_too(make_user, fresh_cache):
    from allauth.account.models import EmailAddress

    from tests.reliability.conftest import run_at_once

    user = make_user("parallel-target")
    EmailAddress.objects.create(user=user, email=user.email, verified=True, primary=True)
    answers = run_at_once(20, lambda i: _sign_in(Client(), user.email, f"guess-{i}"))
    assert not [a for a in answers if isinstance(a, BaseException)], answers
    let_through = [a for a in answers if TOO_MANY not in a]
    assert len(let_through) <= 5, f"{len(let_through)} of 20 simultaneous guesses were checked; the limit is 5"
