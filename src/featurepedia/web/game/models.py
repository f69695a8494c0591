"""Game data: players' profiles, campaigns, flags on features/explanations, every play as an event, and the
answers of the This-vs-That and Odd-one-out modes."""

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
    contest = models.BooleanField(default=False, help_text=(
        "a contest (side quest): time-boxed between its start and end, with its own leaderboard of the points "
        "earned in it, and a results page once it ends"))
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created"]

    def __str__(self) -> str:
        return self.title

    def clean(self) -> None:
        from django.core.exceptions import ValidationError

        if self.starts and self.ends and self.ends <= self.starts:
            raise ValidationError({"ends": "The end must be after the start."})
        if self.contest and (self.starts is None or self.ends is None):
            raise ValidationError({"contest": "A contest needs a start and an end: set both, or untick contest "
                                              "for an open-ended campaign."})

    def phase(self, now: datetime | None = None) -> str:
        """``upcoming``, ``running`` or ``ended`` (an inactive campaign counts as ended)."""
        now = now or timezone.now()
        if self.starts is not None and now < self.starts and self.active:
            return "upcoming"
        return "running" if self.is_running(now) else "ended"

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

    @classmethod
    def main(cls) -> Campaign | None:
        """Where "Play" starts: the newest running campaign that is not a contest, else the newest running
        contest. A new player expects the site's own campaign; a side quest is offered beside it."""
        return cls.running().order_by("contest", "-created").first()


class Flag(models.Model):
    """A player's flag: on a feature (polysemantic mess, none of these fit, explicit) or an explanation (report)."""

    class Kind(models.TextChoices):
        POLYSEMANTIC = "polysemantic", "polysemantic mess"
        NONE_FIT = "none-fit", "none of these fit"
        EXPLICIT = "explicit", "explicit clues"
        SPAM = "spam", "spam or abuse (report)"

    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE,
                             related_name="flags", help_text="empty: raised automatically (see the note)")
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
        VERSUS = "versus"  # This-vs-That
        ODD_ONE = "odd-one"  # Odd-one-out

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


class Comparison(models.Model):
    """One This-vs-That answer: which of two explanations of a feature fits its clues better, or neither.

    The pair is stored in id order (first.pk < second.pk), whichever side each was shown on, so a player
    answers a pair once (a constraint). A visitor's answer carries their session's token until they sign up.
    """

    class Choice(models.TextChoices):
        FIRST = "first", "the first is better"
        SECOND = "second", "the second is better"
        BOTH_BAD = "both-bad", "both are bad"

    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE,
                             related_name="comparisons")
    visitor = models.CharField(max_length=32, blank=True, db_index=True,
                               help_text="an anonymous visitor's token, until they sign up")
    feature = models.ForeignKey(Feature, on_delete=models.CASCADE, related_name="comparisons")
    first = models.ForeignKey(Explanation, on_delete=models.CASCADE, related_name="+")
    second = models.ForeignKey(Explanation, on_delete=models.CASCADE, related_name="+")
    choice = models.CharField(max_length=8, choices=Choice.choices)
    campaign = models.ForeignKey(Campaign, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created"]
        constraints = [
            models.UniqueConstraint(fields=["user", "first", "second"], condition=models.Q(user__isnull=False),
                                    name="one_comparison_per_user"),
            models.UniqueConstraint(fields=["visitor", "first", "second"], condition=~models.Q(visitor=""),
                                    name="one_comparison_per_visitor"),
            models.CheckConstraint(condition=models.Q(first__lt=models.F("second")),
                                   name="comparison_pair_in_id_order"),
            models.CheckConstraint(condition=models.Q(user__isnull=False) | ~models.Q(visitor=""),
                                   name="comparison_has_a_player"),
        ]

    def __str__(self) -> str:
        return f"{self.user or self.visitor} {self.first_id} vs {self.second_id}: {self.choice}"


class OddOneRound(models.Model):
    """An Odd-one-out item: short snippets of a feature's clues and one intruder, in the order shown.

    The snippets are stored (tokens and the marked token), not referenced, so a rebuilt source leaves the
    answers readable.
    """

    class Intruder(models.TextChoices):
        OTHER_FEATURE = "other-feature", "a clue of another feature"
        NOT_FIRING = "not-firing", "a text where the feature does not fire"

    feature = models.ForeignKey(Feature, on_delete=models.CASCADE, related_name="odd_one_rounds")
    snippets = models.JSONField(help_text='[{"tokens": [...], "mark": position of the marked token}, ...]')
    odd = models.PositiveSmallIntegerField(help_text="position of the intruder among the snippets")
    intruder = models.CharField(max_length=16, choices=Intruder.choices)
    created = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["feature", "created"]

    def __str__(self) -> str:
        return f"odd one out {self.pk} of {self.feature}"


class OddOneAnswer(models.Model):
    """One Odd-one-out answer: the snippet picked as the odd one, or none ("they are all alike").

    One answer per player and feature (a constraint): a player sees one round of each feature, so the
    feature's consistency counts independent people.
    """

    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE,
                             related_name="odd_one_answers")
    visitor = models.CharField(max_length=32, blank=True, db_index=True,
                               help_text="an anonymous visitor's token, until they sign up")
    round = models.ForeignKey(OddOneRound, on_delete=models.CASCADE, related_name="answers")
    feature = models.ForeignKey(Feature, on_delete=models.CASCADE, related_name="odd_one_answers")
    pick = models.PositiveSmallIntegerField(null=True, blank=True,
                                            help_text="position picked as odd; empty: they are all alike")
    found = models.BooleanField(help_text="whether the pick was the intruder")
    campaign = models.ForeignKey(Campaign, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created"]
        constraints = [
            models.UniqueConstraint(fields=["user", "feature"], condition=models.Q(user__isnull=False),
                                    name="one_odd_one_answer_per_user"),
            models.UniqueConstraint(fields=["visitor", "feature"], condition=~models.Q(visitor=""),
                                    name="one_odd_one_answer_per_visitor"),
            models.CheckConstraint(condition=models.Q(user__isnull=False) | ~models.Q(visitor=""),
                                   name="odd_one_answer_has_a_player"),
        ]

    def __str__(self) -> str:
        return f"{self.user or self.visitor} round {self.round_id}: {self.pick}"
