"""Who is asking: the API key in ``X-Api-Key`` (or none) and the client's address.

A missing, unknown or revoked key is anonymous, never an error: Neuronpedia's client always sends some key,
and reading works without an account, as on the site. Only writes require a valid key (``WriteKey``).
"""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser
from django.http import HttpRequest
from ninja.errors import AuthenticationError
from ninja.security import APIKeyHeader

from featurepedia.settings import get_settings
from featurepedia.web.accounts.keys import lookup
from featurepedia.web.accounts.models import ApiKey

HEADER = "X-Api-Key"
_CACHED = "_featurepedia_api_key"  # request attribute: the key found, looked up once per request
MISSING_KEY = ("this needs a valid API key in the X-Api-Key header; create one on your profile page "
               "(/me/#api-keys) after signing in, and send it with every request")


def api_key(request: HttpRequest) -> ApiKey | None:
    """The request's active API key, or None for an anonymous request."""
    if not hasattr(request, _CACHED):
        setattr(request, _CACHED, lookup(request.headers.get(HEADER)))
    return getattr(request, _CACHED)


def key_owner(request: HttpRequest) -> AbstractBaseUser:
    """The person a write acts as: the owner of the request's key (routes with ``auth=WriteKey()``)."""
    key = api_key(request)
    if key is None:
        raise AuthenticationError()
    return key.user


def client_ip(request: HttpRequest) -> str:
    """The client's address: the socket's, or behind a reverse proxy the address the proxy appended.

    Only the last X-Forwarded-For entry is trusted (the one our proxy wrote); earlier entries come from the
    client and would let anyone pick their own rate-limit bucket.
    """
    if get_settings().public_url:
        forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
        last = forwarded.split(",")[-1].strip()
        if last:
            return last
    return str(request.META.get("REMOTE_ADDR") or "unknown")


class WriteKey(APIKeyHeader):
    """Auth for writes: the request must carry an active key; its owner acts."""

    param_name = HEADER

    def authenticate(self, request: HttpRequest, key: str | None) -> ApiKey | None:
        return api_key(request)
