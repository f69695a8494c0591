"""The daily puzzle: one feature per campaign and day (UTC), the same for everyone, played as Predict.

The day's feature is the first, in an order fixed by a hash of (campaign, date, feature id), of the
campaign's features with enough examples and an explanation, those of the last RECENT_DAYS days' puzzles
last (the longest ago first). Its best explanation (as its page ranks them) and texts without explicit words make the puzzle.
It is stored when first asked for, so it stays the same all day however the explanations change.

Anyone can play once a day (a visitor is remembered by their session); a signed-in player earns points and
a daily streak. The result is shared as text: a square per text, the date and the address.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import date, timedelta

from django.contrib.auth.base_user import AbstractBaseUser
from django.db.models import Count, Exists, Max, OuterRef, Q
from django.utils import timezone

from featurepedia.web.catalog.models import ActivationExample, Feature
from featurepedia.web.explanations.models import Explanation
from featurepedia.web.explanations.services import visible
from featurepedia.web.game.models import Campaign, DailyPuzzle, Prediction
from featurepedia.web.game.predict import PuzzleText, choose_texts, squares

RECENT_DAYS = 30  # a feature is not the daily twice within this many days (while others are left)
MIN_TOP_EXAMPLES = 4  # so that some top examples are held out from the explainer
MAX_TRIES = 50  # candidates looked at before giving up on a day


def today() -> date:
    return timezone.now().date()


def _digest(campaign: Campaign, day: date, feature_id: int) -> str:
    return hashlib.sha256(f"{campaign.slug}|{day.isoformat()}|{feature_id}".encode()).hexdigest()


def eligible_features(campaign: Campaign) -> list[int]:
    """Ids of the campaign's features with enough top examples, a non-activating one, and an explanation."""
    negatives = ActivationExample.objects.filter(feature=OuterRef("pk"), bin="negative")
    explained = Explanation.objects.filter(feature=OuterRef("pk"), status=Explanation.Status.LIVE)
    return list(campaign.feature_queryset().filter(max_act__gt=0).filter(Exists(negatives), Exists(explained))
                .annotate(n_top=Count("examples", filter=Q(examples__bin="top")))
                .filter(n_top__gte=MIN_TOP_EXAMPLES).values_list("pk", flat=True))


@dataclass
class Choice:
    feature: Feature
    explanation: Explanation
    texts: list[PuzzleText]


def choose(campaign: Campaign, day: date) -> Choice | None:
    """The day's puzzle from the data as it is now (daily_for stores it); None if no feature qualifies."""
    # Features of recent days go last, the longest ago first, so no feature comes twice in a row.
    last_used = dict(DailyPuzzle.objects.filter(campaign=campaign, date__lt=day,
                                                date__gte=day - timedelta(days=RECENT_DAYS))
                     .values("feature_id").annotate(last=Max("date")).values_list("feature_id", "last"))
    order = sorted(eligible_features(campaign),
                   key=lambda pk: (last_used.get(pk, date.min), _digest(campaign, day, pk)))
    for pk in order[:MAX_TRIES]:
        feature = Feature.objects.select_related("source__model").get(pk=pk)
        explanation = visible(feature).first()
        if explanation is None:
            continue
        texts = choose_texts(feature, seed=int(_digest(campaign, day, pk)[:12], 16), hide_explicit=True)
        if texts:
            return Choice(feature, explanation, texts)
    return None


def daily_for(campaign: Campaign, day: date | None = None) -> DailyPuzzle | None:
    """The campaign's puzzle of ``day`` (today by default), chosen and stored on first use."""
    day = day or today()
    related = ("feature__source__model", "explanation", "campaign")
    found = DailyPuzzle.objects.filter(campaign=campaign, date=day).select_related(*related).first()
    if found is not None:
        return found
    choice = choose(campaign, day)
    if choice is None:
        return None
    # Two first visitors at once choose the same; the unique (campaign, date) keeps one row.
    daily, _ = DailyPuzzle.objects.get_or_create(campaign=campaign, date=day, defaults={
        "feature": choice.feature, "explanation": choice.explanation, "texts": [t.ref for t in choice.texts]})
    return DailyPuzzle.objects.select_related(*related).get(pk=daily.pk)


def number(daily: DailyPuzzle) -> int:
    """The puzzle's number in its campaign: 1 for the first day anyone played it."""
    return DailyPuzzle.objects.filter(campaign_id=daily.campaign_id, date__lte=daily.date).count()


def share_text(daily: DailyPuzzle, prediction: Prediction, address: str) -> str:
    """The result to paste anywhere, like Wordle's grid::

        Featurepedia daily #12 · 2026-12-02
        🟩🟨⬜🟩 r = 0.62
        https://example.org/daily/smollm2-layer-6/
    """
    grid = squares(prediction.marks, prediction.truth)
    return (f"Featurepedia daily #{number(daily)} · {daily.date.isoformat()}\n"
            f"{grid} r = {prediction.score:.2f}\n{address}")


def daily_streak(user: AbstractBaseUser, day: date | None = None) -> int:
    """Days in a row (UTC) this player played a daily puzzle, ending today or yesterday."""
    day = day or today()
    days = set(Prediction.objects.filter(user=user, daily__date__gte=day - timedelta(days=366))
               .values_list("daily__date", flat=True))
    current = day if day in days else day - timedelta(days=1)
    count = 0
    while current in days:
        count += 1
        current -= timedelta(days=1)
    return count
