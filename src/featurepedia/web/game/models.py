"""Game data: players' profiles, campaigns, flags on features/explanations, and every play as an event."""

from __future__ import annotations

from datetime import datetime

from django.conf import settings
from django.db import models
from django.utils import timezone

from featurepedia.web.catalog.models import Feature, Source
from featurepedia.web.explanations.models import Explanation


class Profile(models.Model):
    """A player's public name, where they play from, and how they like the site shown."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="profile")
    display_name = models.CharField(max_length=40, blank=True, help_text="shown on leaderboards")
    country = models.CharField(max_length=2, blank=True, help_text="ISO 3166 code, e.g. GB")
    region = models.CharField(max_length=60, blank=True, help_text="state, county or province")
    explicit_filter = models.BooleanField(default=False, help_text="hide clues with explicit words")
    advanced_mode = models.BooleanField(default=False, help_text="show authors, methods, all scores, filters")
    blind_mode = models.BooleanField(default=True, help_text="hide others' explanations until I answer")
    onboarded = models.BooleanField(default=False)
    confirmed_first_vote = models.BooleanField(default=False)
    banned = models.BooleanField(default=False, help_text="their explanations are hidden; nothing is deleted")

    def __str__(self) -> str:
        return self.name

    @property
    def name(self) -> str:
        return self.display_name or self.user.get_username().split("@")[0]


class Campaign(models.Model):
    """A set of features players are asked to explain: a whole source or a hand-picked list, maybe dated."""

    slug = models.SlugField(max_length=80, unique=True)
    title = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    source = models.ForeignKey(Source, null=True, blank=True, on_delete=models.CASCADE,
                               help_text="every feature of this source (or pick features below)")
    features = models.ManyToManyField(Feature, blank=True, related_name="campaigns")
    starts = models.DateTimeField(null=True, blank=True)
    ends = models.DateTimeField(null=True, blank=True)
    active = models.BooleanField(default=True)
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created"]

    def __str__(self) -> str:
        return self.title

    def is_running(self, now: datetime | None = None) -> bool:
        now = now or timezone.now()
        return self.active and (self.starts is None or self.starts <= now) and (self.ends is None or now < self.ends)

    def feature_queryset(self) -> models.QuerySet[Feature]:
        """The campaign's features: its list if it has one, else its whole source."""
        picked = self.features.all()
        if self.source_id is None or picked.exists():
            return picked
        return Feature.objects.filter(source_id=self.source_id)

    @classmethod
    def running(cls) -> models.QuerySet[Campaign]:
        now = timezone.now()
        return cls.objects.filter(active=True).filter(
            models.Q(starts__isnull=True) | models.Q(starts__lte=now)).filter(
            models.Q(ends__isnull=True) | models.Q(ends__gt=now))


class Flag(models.Model):
    """A player's flag: on a feature (polysemantic mess, none of these fit, explicit) or an explanation (report)."""

    class Kind(models.TextChoices):
        POLYSEMANTIC = "polysemantic", "polysemantic mess"
        NONE_FIT = "none-fit", "none of these fit"
        EXPLICIT = "explicit", "explicit clues"
        SPAM = "spam", "spam or abuse (report)"

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="flags")
    feature = models.ForeignKey(Feature, on_delete=models.CASCADE, related_name="flags")
    explanation = models.ForeignKey(Explanation, null=True, blank=True, on_delete=models.CASCADE,
                                    related_name="flags")
    kind = models.CharField(max_length=16, choices=Kind.choices)
    note = models.CharField(max_length=500, blank=True)
    resolved = models.BooleanField(default=False)
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created"]
        constraints = [models.UniqueConstraint(fields=["user", "feature", "explanation", "kind"],
                                               name="one_flag_per_kind", nulls_distinct=False)]

    def __str__(self) -> str:
        return f"{self.user} {self.kind} {self.feature}"


class PlayEvent(models.Model):
    """One thing a player did on a puzzle, with the points it earned (the ledger behind leaderboards)."""

    class Action(models.TextChoices):
        VOTE = "vote"
        EXPLAIN = "explain"
        BEST = "best", "new best explanation"
        SKIP = "skip"
        POLYSEMANTIC = "polysemantic"
        NONE_FIT = "none-fit"
        PREDICT = "predict", "predicted activations"
        DAILY = "daily", "daily puzzle"

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="plays")
    feature = models.ForeignKey(Feature, on_delete=models.CASCADE, related_name="plays")
    campaign = models.ForeignKey(Campaign, null=True, blank=True, on_delete=models.SET_NULL, related_name="plays")
    explanation = models.ForeignKey(Explanation, null=True, blank=True, on_delete=models.SET_NULL)
    action = models.CharField(max_length=16, choices=Action.choices)
    points = models.IntegerField(default=0)
    created = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["-created"]
        indexes = [models.Index(fields=["user", "created"], name="play_user_time"),
                   models.Index(fields=["feature", "action"], name="play_feature_action")]

    def __str__(self) -> str:
        return f"{self.user} {self.action} {self.feature} +{self.points}"


class DailyPuzzle(models.Model):
    """The day's puzzle of a campaign: one feature, its best explanation and the texts, the same for everyone.

    Stored when the day's first visitor asks, so it stays the same all day even as explanations change.
    """

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="dailies")
    date = models.DateField(help_text="the day (UTC)")
    feature = models.ForeignKey(Feature, on_delete=models.CASCADE, related_name="dailies")
    explanation = models.ForeignKey(Explanation, on_delete=models.CASCADE, related_name="dailies")
    texts = models.JSONField(default=list, help_text="the texts shown: [{example, start, length}, ...]")
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-date"]
        constraints = [models.UniqueConstraint(fields=["campaign", "date"], name="one_daily_per_campaign_day")]

    def __str__(self) -> str:
        return f"{self.campaign.slug} {self.date}: {self.feature}"


class Prediction(models.Model):
    """A player's guess of where a feature fires, given one of its explanations, scored against the truth.

    A visitor's guess is kept under their visitor id and becomes theirs when they sign up. Only signed-in
    players' guesses count towards an explanation's human simulation score (see game/predict.py).
    """

    explanation = models.ForeignKey(Explanation, on_delete=models.CASCADE, related_name="predictions")
    feature = models.ForeignKey(Feature, on_delete=models.CASCADE, related_name="predictions")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE,
                             related_name="predictions")
    visitor = models.CharField(max_length=32, blank=True, help_text="a visitor's id (from their session)")
    campaign = models.ForeignKey(Campaign, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    daily = models.ForeignKey(DailyPuzzle, null=True, blank=True, on_delete=models.CASCADE,
                              related_name="predictions")
    texts = models.JSONField(default=list, help_text="the texts shown: [{example, start, length}, ...]")
    marks = models.JSONField(default=list, help_text="the player's 0-10 per token, one list per text")
    truth = models.JSONField(default=list, help_text="the true activations per token (0 below active)")
    score = models.FloatField(help_text="Pearson correlation of marks and truth over all tokens")
    created = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["-created"]
        indexes = [models.Index(fields=["explanation", "user"], name="prediction_expl_user")]
        constraints = [
            models.CheckConstraint(condition=models.Q(user__isnull=False) | ~models.Q(visitor=""),
                                   name="prediction_has_a_player"),
            models.UniqueConstraint(fields=["user", "explanation"], name="one_prediction_per_player",
                                    condition=models.Q(user__isnull=False, daily__isnull=True)),
            models.UniqueConstraint(fields=["visitor", "explanation"], name="one_prediction_per_visitor",
                                    condition=~models.Q(visitor="") & models.Q(daily__isnull=True)),
            models.UniqueConstraint(fields=["user", "daily"], name="one_daily_per_player",
                                    condition=models.Q(user__isnull=False, daily__isnull=False)),
            models.UniqueConstraint(fields=["visitor", "daily"], name="one_daily_per_visitor",
                                    condition=~models.Q(visitor="") & models.Q(daily__isnull=False)),
        ]

    def __str__(self) -> str:
        return f"{self.user or self.visitor} predicted {self.explanation_id}: {self.score:.2f}"
