"""Leaderboards: players ranked by points over all time, this week or this month, anywhere or by place."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta

from django.contrib.auth.base_user import AbstractBaseUser
from django.db.models import QuerySet, Sum
from django.utils import timezone
from django_countries import countries

from featurepedia.web.game.models import PlayEvent

PERIODS = {"all": "All time", "week": "This week", "month": "This month"}


@dataclass
class Row:
    rank: int
    user_id: int
    name: str
    country: str
    region: str
    points: int

    @property
    def country_name(self) -> str:
        return str(countries.name(self.country)) or self.country


def period_start(period: str, now: datetime | None = None) -> datetime | None:
    """Start of the period in UTC: Monday for a week, the 1st for a month, None for all time."""
    now = now or timezone.now()
    midnight = datetime.combine(now.date(), time.min, tzinfo=now.tzinfo)
    if period == "week":
        return midnight - timedelta(days=now.weekday())
    if period == "month":
        return midnight.replace(day=1)
    return None


def _events(period: str, country: str = "", region: str = "") -> QuerySet[PlayEvent]:
    events = PlayEvent.objects.exclude(user__profile__banned=True)
    start = period_start(period)
    if start is not None:
        events = events.filter(created__gte=start)
    if country:
        events = events.filter(user__profile__country__iexact=country)
    if region:
        events = events.filter(user__profile__region__iexact=region)
    return events


def leaderboard(period: str = "all", country: str = "", region: str = "", limit: int = 50) -> list[Row]:
    """The top players; ties share a rank."""
    return ranked(_events(period, country, region), limit)


def ranked(events: QuerySet[PlayEvent], limit: int = 50) -> list[Row]:
    """The players of ``events`` by their points in them, best first; ties share a rank."""
    totals = (events.values("user_id", "user__username", "user__profile__display_name",
                                                      "user__profile__country", "user__profile__region")
              .annotate(points=Sum("points")).filter(points__gt=0).order_by("-points", "user_id")[:limit])
    rows: list[Row] = []
    for i, t in enumerate(totals):
        rank = rows[-1].rank if rows and rows[-1].points == t["points"] else i + 1
        name = t["user__profile__display_name"] or t["user__username"].split("@")[0]
        rows.append(Row(rank, t["user_id"], name, t["user__profile__country"] or "",
                        t["user__profile__region"] or "", t["points"]))
    return rows


def rank_of(user: AbstractBaseUser, period: str = "all") -> tuple[int | None, int]:
    """(rank, points) of a player; rank is None before they have any points."""
    totals = _events(period).values("user_id").annotate(points=Sum("points"))
    mine = next((t["points"] for t in totals.filter(user_id=user.pk)), 0) or 0
    if mine <= 0:
        return None, 0
    return totals.filter(points__gt=mine).count() + 1, mine
