"""Moderation of lists and comments: hide or restore comments, resolve reports (all logged)."""

from __future__ import annotations

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from featurepedia.web.community.models import Bookmark, Comment, CommentReport, FeatureList, ListItem


class ListItemInline(admin.TabularInline):
    model = ListItem
    raw_id_fields = ["feature"]
    extra = 0


@admin.register(FeatureList)
class FeatureListAdmin(admin.ModelAdmin):
    list_display = ["title", "owner", "public", "updated"]
    list_filter = ["public"]
    search_fields = ["title", "owner__username"]
    raw_id_fields = ["owner"]
    inlines = [ListItemInline]


@admin.register(Comment)
class CommentAdmin(admin.ModelAdmin):
    list_display = ["feature", "author", "status", "created", "text"]
    list_filter = ["status"]
    search_fields = ["text", "author__username"]
    raw_id_fields = ["feature", "author"]
    actions = ["hide", "restore"]

    @admin.action(description="Hide the selected comments (they stay stored)")
    def hide(self, request: HttpRequest, queryset: QuerySet[Comment]) -> None:
        self._set(request, queryset, "hidden", "hidden")

    @admin.action(description="Restore the selected comments and resolve their reports")
    def restore(self, request: HttpRequest, queryset: QuerySet[Comment]) -> None:
        self._set(request, queryset, "live", "restored")

    def _set(self, request: HttpRequest, queryset: QuerySet[Comment], status: str, word: str) -> None:
        for c in queryset:
            c.status = status
            c.save(update_fields=["status"])
            CommentReport.objects.filter(comment=c).update(resolved=True)
            self.log_change(request, c, word)
        messages.success(request, f"{queryset.count()} comment(s) {word}.")


@admin.register(CommentReport)
class CommentReportAdmin(admin.ModelAdmin):
    list_display = ["comment", "user", "note", "resolved", "created"]
    list_filter = ["resolved"]
    raw_id_fields = ["comment", "user"]


@admin.register(Bookmark)
class BookmarkAdmin(admin.ModelAdmin):
    list_display = ["user", "feature", "created"]
    raw_id_fields = ["user", "feature"]
