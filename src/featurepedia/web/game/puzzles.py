"""Choosing the next puzzle: a feature of the campaign this player has not seen, among the least played.

Picking at random among the least-played features spreads players over the campaign (every feature gets
answers) without two players in the same moment always getting the same one.
"""

from __future__ import annotations

import random
from collections.abc import Iterable

from django.contrib.auth.base_user import AbstractBaseUser
from django.contrib.auth.models import AnonymousUser
from django.db.models import Count, Q

from featurepedia.web.catalog.models import Feature
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
    """(features with at least one live explanation, features in the campaign)."""
    features = campaign.feature_queryset()
    explained = features.filter(explanations__status="live").distinct().count()
    return explained, features.count()
