"""Account settings for Django: allauth, e-mail delivery and social sign-in, from featurepedia.settings.

Imported by ``featurepedia.web.settings``. Social providers (GitHub, Google, Apple) are enabled only when
their credentials are present, so without them the sign-in page shows no buttons for them. E-mail goes to
files under the data dir in embedded mode (read them to confirm an address) and through SMTP in production.
"""

from __future__ import annotations

from typing import Any

from featurepedia.settings import get_settings

_s = get_settings()

# Which settings enable each provider; every one listed must be set.
PROVIDER_SETTINGS: dict[str, tuple[str, ...]] = {
    "github": ("github_client_id", "github_secret"),
    "google": ("google_client_id", "google_secret"),
    "apple": ("apple_client_id", "apple_key_id", "apple_team_id", "apple_private_key"),
}


def enabled_providers() -> list[str]:
    """Social providers whose credentials are all set."""
    settings = get_settings()
    return [name for name, keys in PROVIDER_SETTINGS.items() if all(getattr(settings, k) for k in keys)]


def _provider_settings() -> dict[str, Any]:
    providers: dict[str, Any] = {}
    for name in enabled_providers():
        if name == "apple":
            app = {"client_id": _s.apple_client_id, "secret": _s.apple_key_id, "key": _s.apple_team_id,
                   "settings": {"certificate_key": _s.apple_private_key}}
        else:
            app = {"client_id": getattr(_s, f"{name}_client_id"), "secret": getattr(_s, f"{name}_secret")}
        providers[name] = {"APPS": [app], "EMAIL_AUTHENTICATION": True}
    providers.setdefault("google", {}).setdefault("SCOPE", ["profile", "email"])
    return providers


AUTHENTICATION_BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",
    "allauth.account.auth_backends.AuthenticationBackend",
]
SOCIALACCOUNT_PROVIDERS = _provider_settings()
SOCIALACCOUNT_EMAIL_AUTHENTICATION_AUTO_CONNECT = True

ACCOUNT_LOGIN_METHODS = {"email"}
ACCOUNT_SIGNUP_FIELDS = ["email*", "password1*"]
ACCOUNT_UNIQUE_EMAIL = True
# Embedded mode lets a new player in at once (the confirmation mail is still sent); production waits for it.
ACCOUNT_EMAIL_VERIFICATION = _s.email_verification or (
    "mandatory" if _s.mode == "production" else "optional")
ACCOUNT_CONFIRM_EMAIL_ON_GET = True
ACCOUNT_LOGIN_ON_EMAIL_CONFIRMATION = True
ACCOUNT_SESSION_REMEMBER = True
ACCOUNT_EMAIL_SUBJECT_PREFIX = "[Featurepedia] "
ACCOUNT_ADAPTER = "featurepedia.web.accounts.adapter.AccountAdapter"
LOGIN_URL = "account_login"
LOGIN_REDIRECT_URL = "profile"
ACCOUNT_LOGOUT_REDIRECT_URL = "home"
# Failed sign-ins are limited per address and per account (allauth's defaults; accounts/throttle.py). Behind a
# reverse proxy the address is the X-Forwarded-For entry the proxy appended, never one the client sent.
ALLAUTH_TRUSTED_PROXY_COUNT = 1 if _s.public_url else 0

DEFAULT_FROM_EMAIL = _s.email_from
if _s.smtp_host:
    EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    EMAIL_HOST = _s.smtp_host
    EMAIL_PORT = _s.smtp_port
    EMAIL_HOST_USER = _s.smtp_user
    EMAIL_HOST_PASSWORD = _s.smtp_password
    EMAIL_USE_TLS = _s.smtp_tls
else:
    # No SMTP server configured: each mail is written as a file a person (or a test) can open.
    EMAIL_BACKEND = "django.core.mail.backends.filebased.EmailBackend"
    EMAIL_FILE_PATH = str(_s.data_dir / "emails")
