"""Generous per-person daily limits, shown to the player ("7 of 50 left today")."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time

from django.contrib.auth.base_user import AbstractBaseUser
from django.contrib.auth.models import AnonymousUser
from django.utils import timezone

from featurepedia.web.explanations.models import Explanation, Vote

EXPLANATIONS_PER_DAY = 50
VOTES_PER_DAY = 500


def start_of_day(now: datetime | None = None) -> datetime:
    """Midnight UTC of today: limits reset at the same moment for everyone."""
    now = now or timezone.now()
    return datetime.combine(now.date(), time.min, tzinfo=now.tzinfo)


@dataclass
class Allowance:
    used: int
    limit: int

    @property
    def left(self) -> int:
        return max(0, self.limit - self.used)

    def __str__(self) -> str:
        return f"{self.left} of {self.limit} left today"


def explanations_allowance(user: AbstractBaseUser | AnonymousUser) -> Allowance:
    """How many explanations the user may still submit today (drafts don't count)."""
    used = Explanation.objects.filter(author=user, created__gte=start_of_day()).exclude(
        status=Explanation.Status.DRAFT).count()
    return Allowance(used, EXPLANATIONS_PER_DAY)


def votes_allowance(user: AbstractBaseUser | AnonymousUser) -> Allowance:
    """How many votes the user may still cast or change today."""
    return Allowance(Vote.objects.filter(user=user, updated__gte=start_of_day()).count(), VOTES_PER_DAY)
