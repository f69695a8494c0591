"""Contests (side quests): campaigns with a start and an end, their own leaderboard and their results.

A contest's board counts the points of plays made in the contest's campaign between its start and end, so
points earned there count on the main leaderboards too, and a play after the end changes nothing. Once a
contest ends its page shows the results: the final standings, how many took part, what was written, and
the best explanations written during it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from django.contrib.auth.base_user import AbstractBaseUser
from django.db.models import Count, Max, Q, QuerySet, Sum
from django.utils import timezone

from featurepedia.web.explanations.models import Explanation, ExplanationScore
from featurepedia.web.explanations.scoring import DEFAULT_SCORER
from featurepedia.web.game.leaderboard import Row, ranked
from featurepedia.web.game.models import Campaign, PlayEvent


def contests() -> QuerySet[Campaign]:
    return Campaign.objects.filter(contest=True).select_related("source__model")


def plays(contest: Campaign) -> QuerySet[PlayEvent]:
    """The plays that count for ``contest``: in its campaign, from its start to its end, by unbanned players."""
    events = PlayEvent.objects.filter(campaign=contest).exclude(user__profile__banned=True)
    if contest.starts is not None:
        events = events.filter(created__gte=contest.starts)
    if contest.ends is not None:
        events = events.filter(created__lt=contest.ends)
    return events


def standings(contest: Campaign, limit: int = 50) -> list[Row]:
    return ranked(plays(contest), limit)


def rank_in(contest: Campaign, user: AbstractBaseUser) -> tuple[int | None, int]:
    """(rank, points) of a player in the contest; rank is None before they have points in it."""
    totals = plays(contest).values("user_id").annotate(points=Sum("points"))
    mine = next((t["points"] for t in totals.filter(user_id=user.pk)), 0) or 0
    if mine <= 0:
        return None, 0
    return totals.filter(points__gt=mine).count() + 1, mine


@dataclass
class Written:
    explanation: Explanation
    score: float | None


@dataclass
class Results:
    """What a contest produced, for its page once it ends (and so far, while it runs)."""

    standings: list[Row]
    n_players: int
    n_plays: int
    by_action: dict[str, int]
    n_written: int
    best: list[Written] = field(default_factory=list)


def results(contest: Campaign, limit: int = 50, n_best: int = 10) -> Results:
    events = plays(contest)
    by_action = dict(events.values_list("action").annotate(n=Count("id")).values_list("action", "n"))
    written = Explanation.objects.filter(
        feature__in=contest.feature_queryset(), status=Explanation.Status.LIVE, author__isnull=False)
    if contest.starts is not None:
        written = written.filter(created__gte=contest.starts)
    if contest.ends is not None:
        written = written.filter(created__lt=contest.ends)
    written = written.exclude(author__profile__banned=True)
    scored = (written.annotate(best_score=Max("scores__value", filter=_default_ok()))
              .select_related("feature__source__model", "author__profile")
              .order_by("-best_score", "created"))
    best = [Written(e, e.best_score) for e in scored.filter(best_score__isnull=False)[:n_best]]
    return Results(standings=standings(contest, limit), n_players=events.values("user_id").distinct().count(),
                   n_plays=sum(by_action.values()), by_action=by_action, n_written=written.count(), best=best)


def _default_ok() -> Q:
    return Q(scores__scorer=DEFAULT_SCORER, scores__status=ExplanationScore.Status.OK)


def time_left(contest: Campaign, now: datetime | None = None) -> timedelta | None:
    now = now or timezone.now()
    if contest.ends is None or contest.phase(now) != "running":
        return None
    return contest.ends - now


def in_words(span: timedelta | None) -> str:
    """``3 days 4 hours``, ``5 hours 10 minutes``, ``12 minutes`` (the two largest units, rounded down)."""
    if span is None:
        return ""
    minutes = max(0, int(span.total_seconds() // 60))
    days, hours, mins = minutes // 1440, minutes % 1440 // 60, minutes % 60
    parts = [(days, "day"), (hours, "hour"), (mins, "minute")]
    first = next((i for i, (n, _unit) in enumerate(parts) if n), 2)
    shown = [f"{n} {unit}{'s' if n != 1 else ''}" for n, unit in parts[first:first + 2] if n or first == 2]
    return " ".join(shown)


def next_period(kind: str, now: datetime | None = None) -> tuple[datetime, datetime]:
    """The next whole week (Monday to Monday) or month (1st to 1st), in UTC, for scheduling a side quest."""
    now = now or timezone.now()
    midnight = now.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    if kind == "week":
        start = midnight + timedelta(days=7 - midnight.weekday())
        return start, start + timedelta(days=7)
    if kind == "month":
        first = midnight.replace(day=1)
        start = (first + timedelta(days=32)).replace(day=1)
        return start, (start + timedelta(days=32)).replace(day=1)
    raise ValueError(f"a side quest is weekly or monthly ('week' or 'month'), not {kind!r}")


def this_week(now: datetime | None = None) -> tuple[datetime, datetime]:
    """Monday 00:00 UTC of this week, and of the next."""
    start, _end = next_period("week", now)
    return start - timedelta(days=7), start


SIDE_QUEST_FEATURES = 100


def ensure_running_side_quest(template: Campaign, now: datetime | None = None) -> Campaign:
    """This week's side quest over ``template`` (made once per week): a contest over a fixed sample of the
    template's features, the same for a given week, so a new site has a contest to play from the start."""
    start, end = this_week(now)
    slug = f"{template.slug[:50]}-week-{start:%Y-%m-%d}"
    contest, created = Campaign.objects.get_or_create(slug=slug, defaults=dict(
        title=f"Side quest: week of {start:%d %b %Y}",
        description=f"A week to explain {SIDE_QUEST_FEATURES} features picked from “{template.title}”. "
                    "Points earned here count on this contest's own board.",
        source=template.source, starts=start, ends=end, active=True, contest=True))
    if created:
        ids = list(template.feature_queryset().order_by("pk").values_list("pk", flat=True))
        step = max(1, len(ids) // SIDE_QUEST_FEATURES)
        offset = int(start.strftime("%V")) % step  # a different sample each week
        contest.features.set(ids[offset::step][:SIDE_QUEST_FEATURES])
    return contest


def schedule_side_quest(template: Campaign, kind: str, now: datetime | None = None) -> Campaign:
    """A new contest over ``template``'s features for the next week or month (its slug and title dated)."""
    start, end = next_period(kind, now)
    label = f"week of {start:%d %b %Y}" if kind == "week" else f"{start:%B %Y}"
    base = template.slug[:60]
    slug = f"{base}-{start:%Y-%m-%d}" if kind == "week" else f"{base}-{start:%Y-%m}"
    contest, created = Campaign.objects.get_or_create(slug=slug, defaults=dict(
        title=f"{template.title} — {label}", description=template.description, source=template.source,
        starts=start, ends=end, active=True, contest=True))
    if created and template.features.exists():
        contest.features.set(template.features.all())
    return contest
