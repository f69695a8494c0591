"""Account settings for Django: allauth, e-mail delivery and social sign-in, all from the environment.

Imported by ``featurepedia.web.settings``. Social providers (GitHub, Google, Apple) are enabled only when
their credentials are present, so without them the sign-in page shows no buttons for them. E-mail goes to
files under the data dir in embedded mode (read them to confirm an address) and through SMTP in production.
"""

from __future__ import annotations

import os
from typing import Any

from featurepedia.settings import get_settings

_s = get_settings()
_env = os.environ.get

# Which environment variables enable each provider; every one listed must be set.
PROVIDER_ENV: dict[str, tuple[str, ...]] = {
    "github": ("FEATUREPEDIA_GITHUB_CLIENT_ID", "FEATUREPEDIA_GITHUB_SECRET"),
    "google": ("FEATUREPEDIA_GOOGLE_CLIENT_ID", "FEATUREPEDIA_GOOGLE_SECRET"),
    "apple": ("FEATUREPEDIA_APPLE_CLIENT_ID", "FEATUREPEDIA_APPLE_KEY_ID", "FEATUREPEDIA_APPLE_TEAM_ID",
              "FEATUREPEDIA_APPLE_PRIVATE_KEY"),
}


def enabled_providers() -> list[str]:
    """Social providers whose credentials are all present in the environment."""
    return [name for name, keys in PROVIDER_ENV.items() if all(_env(k) for k in keys)]


def _provider_settings() -> dict[str, Any]:
    providers: dict[str, Any] = {}
    for name in enabled_providers():
        if name == "apple":
            app = {"client_id": _env("FEATUREPEDIA_APPLE_CLIENT_ID"), "secret": _env("FEATUREPEDIA_APPLE_KEY_ID"),
                   "key": _env("FEATUREPEDIA_APPLE_TEAM_ID"),
                   "settings": {"certificate_key": _env("FEATUREPEDIA_APPLE_PRIVATE_KEY")}}
        else:
            upper = name.upper()
            app = {"client_id": _env(f"FEATUREPEDIA_{upper}_CLIENT_ID"), "secret": _env(f"FEATUREPEDIA_{upper}_SECRET")}
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
ACCOUNT_EMAIL_VERIFICATION = _env("FEATUREPEDIA_EMAIL_VERIFICATION") or (
    "mandatory" if _s.mode == "production" else "optional")
ACCOUNT_CONFIRM_EMAIL_ON_GET = True
ACCOUNT_LOGIN_ON_EMAIL_CONFIRMATION = True
ACCOUNT_SESSION_REMEMBER = True
ACCOUNT_EMAIL_SUBJECT_PREFIX = "[Featurepedia] "
ACCOUNT_ADAPTER = "featurepedia.web.accounts.adapter.AccountAdapter"
LOGIN_URL = "account_login"
LOGIN_REDIRECT_URL = "profile"
ACCOUNT_LOGOUT_REDIRECT_URL = "home"

DEFAULT_FROM_EMAIL = _env("FEATUREPEDIA_EMAIL_FROM") or "Featurepedia <noreply@localhost>"
if _env("FEATUREPEDIA_SMTP_HOST"):
    EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    EMAIL_HOST = _env("FEATUREPEDIA_SMTP_HOST")
    EMAIL_PORT = int(_env("FEATUREPEDIA_SMTP_PORT") or 587)
    EMAIL_HOST_USER = _env("FEATUREPEDIA_SMTP_USER") or ""
    EMAIL_HOST_PASSWORD = _env("FEATUREPEDIA_SMTP_PASSWORD") or ""
    EMAIL_USE_TLS = (_env("FEATUREPEDIA_SMTP_TLS") or "true").lower() in ("1", "true", "yes")
else:
    # No SMTP server configured: each mail is written as a file a person (or a test) can open.
    EMAIL_BACKEND = "django.core.mail.backends.filebased.EmailBackend"
    EMAIL_FILE_PATH = str(_s.data_dir / "emails")
