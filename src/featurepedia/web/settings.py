"""Django settings, derived from the one Featurepedia settings object (featurepedia.settings)."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import dj_database_url
from whitenoise.compress import Compressor

from featurepedia.settings import get_settings
from featurepedia.web.accounts.config import enabled_providers
from featurepedia.web.security import policy

_s = get_settings()
BASE_DIR = Path(__file__).resolve().parent

SECRET_KEY = _s.secret_key
DEBUG = False
ALLOWED_HOSTS = [h.strip() for h in _s.allowed_hosts.split(",") if h.strip()] + ["testserver"]


def behind_proxy(public_url: str) -> dict[str, Any]:
    """Django settings for a site served behind a reverse proxy at ``public_url`` (scheme://host[:port]).

    With https the site is https-only: secure cookies, HSTS, and plain-http requests redirected (except the
    health checks, which load balancers and process managers send over plain http from inside).
    """
    parts = urlsplit(public_url)
    https = parts.scheme == "https"
    return {
        "CSRF_TRUSTED_ORIGINS": [f"{parts.scheme}://{parts.netloc}"] if public_url else [],
        # The proxy terminates TLS and must set (never pass through) X-Forwarded-Proto.
        "SECURE_PROXY_SSL_HEADER": ("HTTP_X_FORWARDED_PROTO", "https") if https else None,
        "SESSION_COOKIE_SECURE": https,
        "CSRF_COOKIE_SECURE": https,
        "SECURE_SSL_REDIRECT": https,
        "SECURE_REDIRECT_EXEMPT": [r"^healthz$", r"^readyz$"],
        # A year, as browsers' preload lists ask; subdomains are left alone (they may be other sites).
        "SECURE_HSTS_SECONDS": 31_536_000 if https else 0,
    }


def caches_for(redis_url: str) -> dict[str, Any]:
    """Django's CACHES: Redis, shared by every web process, when a URL is given; else per-process memory.

    The Redis cache falls back to per-process memory while Redis is unreachable (web/cache.py)."""
    if redis_url:
        return {"default": {"BACKEND": "featurepedia.web.cache.FallbackRedisCache", "LOCATION": redis_url,
                            "KEY_PREFIX": "featurepedia"}}
    return {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}


CACHES = caches_for(_s.redis_url)
# With Redis, sessions are read from the cache and written through to the database (they survive a
# Redis restart); without it they stay in the database alone.
SESSION_ENGINE = ("django.contrib.sessions.backends.cached_db" if _s.redis_url
                  else "django.contrib.sessions.backends.db")

_proxy = behind_proxy(_s.public_url)
CSRF_TRUSTED_ORIGINS = _proxy["CSRF_TRUSTED_ORIGINS"]
SECURE_PROXY_SSL_HEADER = _proxy["SECURE_PROXY_SSL_HEADER"]
SESSION_COOKIE_SECURE = _proxy["SESSION_COOKIE_SECURE"]
CSRF_COOKIE_SECURE = _proxy["CSRF_COOKIE_SECURE"]
SECURE_SSL_REDIRECT = _proxy["SECURE_SSL_REDIRECT"]
SECURE_REDIRECT_EXEMPT = _proxy["SECURE_REDIRECT_EXEMPT"]
SECURE_HSTS_SECONDS = _proxy["SECURE_HSTS_SECONDS"]
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"  # except /embed/ pages (featurepedia.web.security)
CONTENT_SECURITY_POLICY = policy(enabled_providers())
if _s.public_url:
    ALLOWED_HOSTS.append(str(urlsplit(_s.public_url).hostname))

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "featurepedia.web.catalog",
    "featurepedia.web.explanations",
    "featurepedia.web.game",
    "featurepedia.web.accounts",
    "featurepedia.web.api",
    "featurepedia.web.live",
    "featurepedia.web.community",
    "ninja",  # serves the API docs' Swagger UI from its own static files (no CDN)
    "allauth",
    "allauth.account",
    "allauth.socialaccount",
    *[f"allauth.socialaccount.providers.{p}" for p in enabled_providers()],
    "django_tasks",
    "django_tasks_db",
    "csp",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # Outermost after security headers: a lost database answers 503 + Retry-After (web/outage.py).
    "featurepedia.web.outage.DatabaseOutageMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # Pages first-time visitors share, straight from the cache (catalog/pagecache.py): before sessions,
    # authentication, templates and compression, which it does itself.
    "featurepedia.web.catalog.pagecache.SharedPageMiddleware",
    # Feature pages carry one span per token (~400 KB of HTML); gzip makes them ~10x smaller. Django's
    # GZipMiddleware pads responses against BREACH.
    "django.middleware.gzip.GZipMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "allauth.account.middleware.AccountMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "featurepedia.web.security.ContentSecurityPolicyMiddleware",  # after X-Frame-Options: /embed/ is exempt
    "featurepedia.web.errors.FeaturepediaErrorMiddleware",
]

ROOT_URLCONF = "featurepedia.web.urls"
WSGI_APPLICATION = "featurepedia.web.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "featurepedia.web.accounts.context.player",
            ],
        },
    },
]


def database_config(url: str, *, production: bool, pool_size: int, connect_timeout: int) -> dict[str, Any]:
    """Django's DATABASES["default"] for a database URL.

    PostgreSQL in production uses psycopg's connection pool (one per process, opened on first use): a request
    borrows a connection and gives it back, and a connection that died (the server restarted) is replaced
    when it is next handed out, so the site recovers without a restart.
    """
    # Health checks: a kept connection that broke while idle (the database restarted) is replaced before the
    # request's first query instead of failing it, so the site recovers from an outage without a restart.
    config: dict[str, Any] = dict(dj_database_url.parse(url, conn_max_age=60, conn_health_checks=True))
    if config["ENGINE"] == "django.db.backends.postgresql":
        options = config.setdefault("OPTIONS", {})
        options["connect_timeout"] = connect_timeout
        if production:
            # Django's pool checks each connection as it hands it out (ConnectionPool.check_connection).
            options["pool"] = {"min_size": 1, "max_size": pool_size, "timeout": connect_timeout}
            config["CONN_MAX_AGE"] = 0  # the pool keeps the connections (Django refuses both)
            config["CONN_HEALTH_CHECKS"] = True
    return config


def _database() -> dict[str, Any]:
    config = database_config(_s.database, production=_s.mode == "production", pool_size=_s.db_pool_size,
                             connect_timeout=_s.db_connect_timeout)
    if config["ENGINE"] == "django.db.backends.sqlite3":
        Path(config["NAME"]).parent.mkdir(parents=True, exist_ok=True)
        # WAL lets readers (the site) and a writer (a build, a vote) work at once; IMMEDIATE transactions
        # avoid "database is locked" upgrades under concurrent writes.
        config["OPTIONS"] = {"init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
                             "transaction_mode": "IMMEDIATE", "timeout": 30}
        # Each server thread keeps its connection (Django's are per thread): opening one and running the
        # pragmas above at every request was a large part of a cached page's cost.
        config["CONN_MAX_AGE"] = None
    return config


DATABASES = {"default": _database()}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Background work (scoring new explanations): in-process at once in embedded mode; in production a durable
# queue in the database, run by `featurepedia worker` processes.
TASKS = {
    "default": {
        "BACKEND": "django_tasks_db.backend.DatabaseBackend" if _s.mode == "production"
        else "django_tasks.backends.immediate.ImmediateBackend",
    }
}

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = _s.data_dir / "static"  # filled by collectstatic in production
STATIC_ROOT.mkdir(parents=True, exist_ok=True)
STATICFILES_DIRS = [BASE_DIR / "static"]
# WhiteNoise serves static files from the site's own processes. In production they come from STATIC_ROOT,
# written by collectstatic (which `featurepedia stack` and `serve` run first): names carry a hash of their
# content, so they are sent with a year's immutable caching, each beside its gzip and brotli copies.
# Embedded mode serves the source files as they are (no collectstatic step, short caching).
if _s.mode == "production":
    STORAGES = {"default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
                "staticfiles": {"BACKEND": "featurepedia.web.static_storage.StaticStorage"}}
WHITENOISE_USE_FINDERS = _s.mode != "production"
# Source maps are fetched only with developer tools open: not worth compressing (megabytes, at every start).
WHITENOISE_SKIP_COMPRESS_EXTENSIONS = [*Compressor.SKIP_COMPRESS_EXTENSIONS, "map"]
WHITENOISE_AUTOREFRESH = False

from featurepedia.web.accounts.config import *  # noqa: E402,F403  (allauth, email, social sign-in)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": "WARNING"},
    # While the database is away the pool warns at every reconnection attempt; web/outage.py logs the outage
    # once instead (and once when it ends).
    "loggers": {"psycopg.pool": {"level": "ERROR"}},
}
