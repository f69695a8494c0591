"""Account data of our own (allauth keeps sign-in data): API keys."""

from __future__ import annotations

from django.conf import settings
from django.db import models


class ApiKey(models.Model):
    """A key a person made on their profile page to use the API as themselves (sent as ``X-Api-Key``).

    Only the SHA-256 of the key is stored, so a leaked database does not leak keys; the key itself is
    shown once, when it is made. A revoked key is kept (its name and dates stay on the profile page).
    """

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_keys")
    name = models.CharField(max_length=60, help_text="what the key is for, e.g. 'laptop scripts'")
    prefix = models.CharField(max_length=16, help_text="the key's first characters, to recognise it")
    hashed = models.CharField(max_length=64, unique=True, help_text="SHA-256 of the key, in hex")
    created = models.DateTimeField(auto_now_add=True)
    last_used = models.DateTimeField(null=True, blank=True)
    revoked = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created"]
        verbose_name = "API key"

    def __str__(self) -> str:
        return f"{self.user} {self.prefix}… ({self.name})"

    @property
    def active(self) -> bool:
        return self.revoked is None
