"""API keys: made and revoked by their owner, looked up by hash on every API request."""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from django.contrib.auth.base_user import AbstractBaseUser
from django.db import transaction
from django.utils import timezone

from featurepedia.errors import UsageError
from featurepedia.web import text_rules
from featurepedia.web.accounts.models import ApiKey

KEY_PREFIX = "fp_"
MAX_ACTIVE_KEYS = 10
# last_used is a hint for the owner ("used 3 hours ago"), so it is written at most once a minute per key
# rather than on every request.
LAST_USED_RESOLUTION = timedelta(minutes=1)


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()


def create_key(user: AbstractBaseUser, name: str) -> tuple[ApiKey, str]:
    """Make a key for ``user``; returns the stored row and the key itself (shown once, never stored)."""
    name = text_rules.check(" ".join(name.split())[:60], "a key's name", name=True) or "API key"
    with transaction.atomic():
        active = ApiKey.objects.select_for_update().filter(user=user, revoked__isnull=True)
        if active.count() >= MAX_ACTIVE_KEYS:
            raise UsageError(f"You have {MAX_ACTIVE_KEYS} active API keys, the most allowed; revoke one you no "
                             "longer use first.")
        key = KEY_PREFIX + secrets.token_urlsafe(32)
        row = ApiKey.objects.create(user=user, name=name, prefix=key[:len(KEY_PREFIX) + 6], hashed=hash_key(key))
    return row, key


def revoke_key(user: AbstractBaseUser, pk: int) -> ApiKey | None:
    """Revoke one of ``user``'s keys; None when they have no such key."""
    row = ApiKey.objects.filter(user=user, pk=pk).first()
    if row is not None and row.revoked is None:
        row.revoked = timezone.now()
        row.save(update_fields=["revoked"])
    return row


def lookup(key: str | None) -> ApiKey | None:
    """The active key ``key`` names, with its user; None for a missing, unknown or revoked key."""
    if not key or not key.startswith(KEY_PREFIX) or len(key) > 200:
        return None
    row = (ApiKey.objects.select_related("user")
           .filter(hashed=hash_key(key), revoked__isnull=True, user__is_active=True).first())
    if row is None:
        return None
    now = timezone.now()
    if row.last_used is None or now - row.last_used >= LAST_USED_RESOLUTION:
        ApiKey.objects.filter(pk=row.pk).update(last_used=now)
        row.last_used = now
    return row
