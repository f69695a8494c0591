"""Lists of features (public, or private with a link to share), bookmarks, and comments on feature pages
with reports for moderation."""

from __future__ import annotations

import secrets

from django.conf import settings
from django.db import models

from featurepedia.web.catalog.models import Feature


def _share_token() -> str:
    return secrets.token_urlsafe(16)


class FeatureList(models.Model):
    """A named collection of features. Private lists are seen by their owner and by whoever has the link
    with its share key; public ones are listed for everyone. The optional test text is run through each
    feature on the list's page."""

    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="feature_lists")
    title = models.CharField(max_length=120)
    description = models.TextField(blank=True)
    public = models.BooleanField(default=False, help_text="listed for everyone (else: only with the link)")
    share_key = models.CharField(max_length=32, unique=True, default=_share_token, editable=False)
    test_text = models.TextField(blank=True, help_text="a text to run through every feature of the list")
    created = models.DateTimeField(auto_now_add=True)
    updated = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-updated"]

    def __str__(self) -> str:
        return self.title


class ListItem(models.Model):
    feature_list = models.ForeignKey(FeatureList, on_delete=models.CASCADE, related_name="items")
    feature = models.ForeignKey(Feature, on_delete=models.CASCADE, related_name="list_items")
    note = models.CharField(max_length=300, blank=True)
    added = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["added", "id"]
        constraints = [models.UniqueConstraint(fields=["feature_list", "feature"], name="feature_once_per_list")]


class Bookmark(models.Model):
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="bookmarks")
    feature = models.ForeignKey(Feature, on_delete=models.CASCADE, related_name="bookmarks")
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created"]
        constraints = [models.UniqueConstraint(fields=["user", "feature"], name="one_bookmark_per_feature")]


class Comment(models.Model):
    """A comment on a feature page. Hidden comments (by a moderator, or automatically after enough reports,
    until a moderator looks) stay stored."""

    class Status(models.TextChoices):
        LIVE = "live"
        HIDDEN = "hidden", "hidden by a moderator"
        REPORTED = "reported", "hidden after reports, awaiting a moderator"
        DELETED = "deleted", "deleted by its author"

    feature = models.ForeignKey(Feature, on_delete=models.CASCADE, related_name="comments")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="comments")
    text = models.TextField()
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.LIVE)
    created = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["created", "id"]
        indexes = [models.Index(fields=["feature", "status"], name="comment_feature_status")]

    def __str__(self) -> str:
        return f"{self.author} on {self.feature}: {self.text[:40]}"


class CommentReport(models.Model):
    comment = models.ForeignKey(Comment, on_delete=models.CASCADE, related_name="reports")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="comment_reports")
    note = models.CharField(max_length=300, blank=True)
    resolved = models.BooleanField(default=False)
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created"]
        constraints = [models.UniqueConstraint(fields=["comment", "user"], name="one_report_per_comment")]
