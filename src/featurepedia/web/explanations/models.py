"""Explanations (by people or methods), their scores, and people's votes on them."""

from __future__ import annotations

import re
import unicodedata
from typing import Any

from django.conf import settings
from django.db import models

from featurepedia.interp import MAX_EXPLANATION_CHARS
from featurepedia.web.catalog.models import Feature


def normalise(text: str) -> str:
    """Text compared for duplicates: case-folded, accents and punctuation dropped, spaces collapsed."""
    text = unicodedata.normalize("NFKD", text).casefold()
    text = "".join(c for c in text if not unicodedata.combining(c))
    text = re.sub(r"[^\w\s]", " ", text)
    return re.sub(r"\s+", " ", text).strip()


class Explanation(models.Model):
    """What a feature does, in words: written by a person (author) or produced by a method."""

    class Status(models.TextChoices):
        DRAFT = "draft"
        LIVE = "live"
        HIDDEN = "hidden"  # by moderation; kept, never deleted

    feature = models.ForeignKey(Feature, on_delete=models.CASCADE, related_name="explanations")
    text = models.CharField(max_length=MAX_EXPLANATION_CHARS)
    normalised = models.CharField(max_length=MAX_EXPLANATION_CHARS, db_index=True, editable=False)
    author = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                               related_name="explanations")
    method = models.CharField(max_length=100, default="human",
                              help_text="human, token-list, local-lm, llm:<model>, ...")
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.LIVE)
    details = models.JSONField(default=dict, blank=True, help_text="how a method produced it (prompt, usage)")
    created = models.DateTimeField(auto_now_add=True)
    updated = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["feature", "-created"]
        indexes = [models.Index(fields=["feature", "status"], name="explanation_feature_status")]
        constraints = [models.UniqueConstraint(fields=["feature", "method"], condition=~models.Q(method="human"),
                                               name="one_explanation_per_method")]

    def save(self, *args: Any, **kwargs: Any) -> None:
        self.normalised = normalise(self.text)[:MAX_EXPLANATION_CHARS]
        super().save(*args, **kwargs)

    def __str__(self) -> str:
        return f"{self.feature}: {self.text[:60]}"


class ExplanationScore(models.Model):
    """One scorer's verdict on an explanation; a failed or pending score keeps the explanation intact."""

    class Status(models.TextChoices):
        PENDING = "pending"
        OK = "ok"
        FAILED = "failed"

    explanation = models.ForeignKey(Explanation, on_delete=models.CASCADE, related_name="scores")
    scorer = models.CharField(max_length=64)
    version = models.CharField(max_length=32, blank=True)
    value = models.FloatField(null=True, blank=True)
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.PENDING)
    error = models.TextField(blank=True)
    details = models.JSONField(default=dict, blank=True, help_text="per-example predictions and settings")
    created = models.DateTimeField(auto_now_add=True)
    updated = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["explanation", "scorer"]
        constraints = [models.UniqueConstraint(fields=["explanation", "scorer"], name="one_score_per_scorer")]

    def __str__(self) -> str:
        return f"{self.scorer}={self.value} ({self.status})"


class Vote(models.Model):
    """A person's up (+1) or down (-1) vote on an explanation; one per person and explanation."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="votes")
    explanation = models.ForeignKey(Explanation, on_delete=models.CASCADE, related_name="votes")
    value = models.SmallIntegerField(choices=[(1, "up"), (-1, "down")])
    created = models.DateTimeField(auto_now_add=True)
    updated = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "explanation"], name="one_vote_per_user"),
            models.CheckConstraint(condition=models.Q(value__in=[1, -1]), name="vote_is_plus_or_minus_one"),
        ]

    def __str__(self) -> str:
        return f"{self.user} {self.value:+d} {self.explanation_id}"
