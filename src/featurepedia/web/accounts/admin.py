from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils import timezone

from featurepedia.web.accounts.models import ApiKey
from featurepedia.web.accounts.throttle import ThrottledAdminLoginForm

# The admin's sign-in counts failed attempts with the site's (accounts/throttle.py).
admin.site.login_form = ThrottledAdminLoginForm


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin):
    """Moderators see and revoke keys; the keys themselves were never stored, only their hashes."""

    list_display = ["prefix", "name", "user", "created", "last_used", "revoked"]
    list_filter = ["revoked"]
    search_fields = ["user__username", "user__email", "name", "prefix"]
    readonly_fields = ["user", "name", "prefix", "hashed", "created", "last_used"]
    actions = ["revoke"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # a key is made by its owner on the profile page, where it is shown once

    @admin.action(description="Revoke the selected keys")
    def revoke(self, request: HttpRequest, queryset: QuerySet[ApiKey]) -> None:
        queryset.filter(revoked__isnull=True).update(revoked=timezone.now())
