"""Choosing the next puzzle: a feature of the campaign this player has not seen, among the least played.

Picking at random among the least-played features spreads players over the campaign (every feature gets
answers) without two players in the same moment always getting the same one.
"""

from __future__ import annotations

import random
from collections.abc import Iterable

from django.contrib.auth.base_user import AbstractBaseUser
from django.contrib.auth.models import AnonymousUser
from django.db import connection
from django.db.models import Count, Q

from featurepedia.web.catalog import pagecache
from featurepedia.web.catalog.models import Feature, Source
from featurepedia.web.explanations.models import Explanation
from featurepedia.web.game.models import Campaign, PlayEvent

CANDIDATES = 25  # least-played features to choose from at random


def seen_by(user: AbstractBaseUser | AnonymousUser) -> set[int]:
    """Feature ids a signed-in player has already answered or skipped."""
    if not user.is_authenticated:
        return set()
    return set(PlayEvent.objects.filter(user=user).values_list("feature_id", flat=True).distinct())


def next_puzzle(campaign: Campaign, exclude: Iterable[int] = (), rng: random.Random | None = None) -> Feature | None:
    """A feature with clues that the player has not seen, from the least-answered of the campaign."""
    rng = rng or random.Random()
    features = (campaign.feature_queryset().filter(max_act__gt=0).exclude(id__in=list(exclude))
                .annotate(answers=Count("plays", filter=~Q(plays__action=PlayEvent.Action.SKIP)))
                .order_by("answers", "index").only("id", "index", "source_id"))
    pool = list(features[:CANDIDATES])
    if not pool:
        return None
    fewest = pool[0].answers
    least = [f for f in pool if f.answers == fewest]
    return rng.choice(least)


def campaign_progress(campaign: Campaign) -> tuple[int, int]:
    """(features with at least one live explanation, features in the campaign).

    Counted once and cached while nothing it depends on changes (``progress_stamp``): shown on every puzzle
    page, the campaigns' list and the home page."""
    def count() -> tuple[int, int]:
        features = campaign.feature_queryset()
        explained = features.filter(explanations__status="live").distinct().count()
        return explained, features.count()

    return pagecache.cached("campaign-progress", (campaign.pk, campaign.source_id, *progress_stamp(campaign)), count)


def progress_stamp(campaign: Campaign) -> tuple[str, ...]:
    """Changes whenever an explanation is added, changed (its status) or deleted anywhere, a source is rebuilt,
    or the campaign's picked features change: one cheap query."""
    e, src = Explanation._meta.db_table, Source._meta.db_table
    picked = Campaign.features.through._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT (SELECT COUNT(*) FROM {e}), (SELECT MAX(updated) FROM {e}), "
                       f"(SELECT COUNT(*) FROM {src}), (SELECT MAX(updated) FROM {src}), "
                       f"(SELECT COUNT(*) FROM {picked} WHERE campaign_id = %s), "
                       f"(SELECT MAX(id) FROM {picked} WHERE campaign_id = %s)", [campaign.pk, campaign.pk])
        row = cursor.fetchone()
    return tuple(str(v) for v in row)
