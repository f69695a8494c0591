"""What people do with explanations: submit (scored at once), save drafts, vote, change and undo votes.

Every write happens in a transaction, so a submitted explanation or vote is either stored whole or not at
all. Scoring runs after the explanation is committed: a scorer that fails leaves the explanation intact.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from django.contrib.auth import get_user_model
from django.contrib.auth.base_user import AbstractBaseUser
from django.db import transaction
from django.db.models import Case, Count, F, IntegerField, Max, Prefetch, Q, QuerySet, Value, When

from featurepedia.errors import FeaturepediaError
from featurepedia.interp import MAX_EXPLANATION_CHARS
from featurepedia.web import text_rules
from featurepedia.web.catalog.models import Feature
from featurepedia.web.explanations.duplicates import find_duplicate
from featurepedia.web.explanations.limits import explanations_allowance, votes_allowance
from featurepedia.web.explanations.models import Explanation, ExplanationScore, Vote
from featurepedia.web.explanations.scoring import DEFAULT_SCORER, enqueue_score, queue_is_durable

MIN_EXPLANATION_CHARS = 3
log = logging.getLogger(__name__)


class ExplanationError(FeaturepediaError, ValueError):
    """A player's action on explanations is refused: a text too short or too long, a daily limit reached,
    a vote that is not allowed, an answer to a puzzle that does not fit. The message, shown to the player,
    says why and what to do instead."""


@dataclass
class SubmitResult:
    """The outcome of a submission: a new explanation (with its score) or a vote for an existing one."""

    explanation: Explanation
    duplicate_of: Explanation | None = None
    score: ExplanationScore | None = None
    new_best: bool = False
    previous_best: float | None = None


# Most upvoted, then best scored (unscored last on every database: PostgreSQL sorts NULL first when
# descending), then oldest.
BEST_FIRST = ("-ups", F("best_score").desc(nulls_last=True), "created")

# An app above this one may rank explanations from its own evidence (the game's This-vs-That comparisons,
# game/versus.py): given feature ids, it returns, for the features whose ranking it vouches for, their
# explanation ids best first. Those features are ordered by it (unlisted explanations after, by BEST_FIRST);
# the others keep BEST_FIRST.
Ranker = Callable[[list[int]], dict[int, list[int]]]
_RANKERS: dict[str, Ranker] = {}


def register_ranker(name: str, ranker: Ranker) -> None:
    """Let ``ranker`` order the explanations of the features it ranks; one ranker at most (else ValueError)."""
    if _RANKERS:
        raise ValueError(f"an explanation ranker is already registered ({', '.join(_RANKERS)}); not adding {name!r}")
    _RANKERS[name] = ranker


def ranked(feature_ids: list[int]) -> dict[int, list[int]]:
    """The registered ranker's orders for these features (empty without one)."""
    return next(iter(_RANKERS.values()))(feature_ids) if _RANKERS and feature_ids else {}


def lock_player(user: AbstractBaseUser) -> None:
    """Hold the player's row until the transaction ends, so one player's writes happen one at a time.

    Checks then writes ("no vote yet, so create one"; "no points for this yet, so award them") race when the
    same player sends many requests at once (a double click, a script, several tabs): under this lock the
    second one sees what the first wrote. Other players are not held up. A no-op on SQLite, whose write
    transactions (IMMEDIATE) already run one at a time.
    """
    get_user_model().objects.select_for_update().filter(pk=user.pk).values_list("pk", flat=True).first()


def visible(feature: Feature | int) -> QuerySet[Explanation]:
    """Live explanations of a feature, hiding those of banned players, with vote tallies and default score."""
    feature_id = feature if isinstance(feature, int) else feature.pk
    order = ranked([feature_id]).get(feature_id)
    rows = _live(Explanation.objects.filter(feature_id=feature_id))
    if not order:
        return rows.order_by(*BEST_FIRST)
    position = Case(*[When(pk=pk, then=Value(i)) for i, pk in enumerate(order)], default=Value(len(order)),
                    output_field=IntegerField())
    return rows.annotate(ranked_position=position).order_by("ranked_position", *BEST_FIRST)


def _live(explanations: QuerySet[Explanation]) -> QuerySet[Explanation]:
    return (explanations.filter(status=Explanation.Status.LIVE)
            .exclude(author__profile__banned=True)
            .select_related("author", "author__profile")
            # A score's details hold its per-example predictions (kilobytes of JSON): pages never show them.
            .prefetch_related(Prefetch("scores", queryset=ExplanationScore.objects.defer("details")))
            .annotate(ups=Count("votes", filter=Q(votes__value=1), distinct=True),
                      downs=Count("votes", filter=Q(votes__value=-1), distinct=True),
                      best_score=Max("scores__value", filter=Q(scores__scorer=DEFAULT_SCORER,
                                                                 scores__status="ok"))))


def best_explanations(feature_ids: list[int]) -> dict[int, Explanation]:
    """The top visible explanation of each feature (as its page ranks them), for a page of features at once."""
    orders = ranked(list(feature_ids))
    best: dict[int, Explanation] = {}
    rows = list(_live(Explanation.objects.filter(feature_id__in=feature_ids)).order_by("feature_id", *BEST_FIRST))
    by_id = {e.pk: e for e in rows}
    for feature_id, order in orders.items():
        top = next((by_id[pk] for pk in order if pk in by_id), None)
        if top is not None:
            best[feature_id] = top
    for e in rows:
        best.setdefault(e.feature_id, e)
    return best


def best_score(feature: Feature, exclude: Explanation | None = None) -> float | None:
    """The top default-scorer score among the feature's live explanations."""
    qs = ExplanationScore.objects.filter(explanation__feature=feature, explanation__status=Explanation.Status.LIVE,
                                         scorer=DEFAULT_SCORER, status=ExplanationScore.Status.OK)
    if exclude is not None:
        qs = qs.exclude(explanation=exclude)
    return qs.aggregate(best=Max("value"))["best"]


def clean_text(text: str) -> str:
    """The explanation as stored: trimmed, inner whitespace collapsed; raises if too short or too long."""
    reason = text_rules.problem(text or "")
    if reason:
        raise ExplanationError(f"That explanation cannot be stored: {reason}.")
    text = " ".join((text or "").split())
    if len(text) < MIN_EXPLANATION_CHARS:
        raise ExplanationError(f"An explanation needs at least {MIN_EXPLANATION_CHARS} characters; "
                               "describe what the highlighted words have in common.")
    if len(text) > MAX_EXPLANATION_CHARS:
        raise ExplanationError(f"That explanation is {len(text):,} characters; the limit is "
                               f"{MAX_EXPLANATION_CHARS}. Shorten it to its main idea.")
    return text


def save_draft(user: AbstractBaseUser, feature: Feature, text: str) -> Explanation:
    """Keep unfinished text for later; drafts are private and unscored."""
    text = clean_text(text)
    with transaction.atomic():
        return Explanation.objects.create(feature=feature, text=text, author=user, method="human",
                                          status=Explanation.Status.DRAFT)


def submit(user: AbstractBaseUser, feature: Feature, text: str, draft: Explanation | None = None,
           use_embeddings: bool = True) -> SubmitResult:
    """Publish an explanation and score it now, or upvote the existing one it nearly duplicates.

    Args:
        draft: a draft of this user being published (it becomes the explanation, or is deleted on a duplicate).
    """
    text = clean_text(text)
    allowance = explanations_allowance(user)
    if allowance.left <= 0:
        raise ExplanationError(f"You have written {allowance.limit} explanations today, the daily limit; "
                               "save this one as a draft and publish it tomorrow.")
    # The slow part of the duplicate check (sentence embeddings) runs before taking any lock ...
    candidates = list(visible(feature).exclude(pk=getattr(draft, "pk", None)))
    duplicate = find_duplicate(candidates, text, use_embeddings=use_embeddings)
    with transaction.atomic():
        # ... then, one submission per feature at a time, it is repeated against explanations that appeared
        # meanwhile: two players sending the same words at once leave one explanation and an upvote.
        Feature.objects.select_for_update().filter(pk=feature.pk).values_list("pk", flat=True).first()
        if duplicate is None:
            seen = {c.pk for c in candidates}
            newer = [c for c in visible(feature).exclude(pk=getattr(draft, "pk", None)) if c.pk not in seen]
            duplicate = find_duplicate(newer, text, use_embeddings=use_embeddings)
        if duplicate is not None:
            if duplicate.author_id != user.pk:
                cast_vote(user, duplicate, 1)
            if draft is not None:
                draft.delete()
            return SubmitResult(explanation=duplicate, duplicate_of=duplicate)
        previous = best_score(feature)
        if draft is not None:
            explanation = draft
            explanation.text, explanation.status = text, Explanation.Status.LIVE
            explanation.save()
        else:
            explanation = Explanation.objects.create(feature=feature, text=text, author=user, method="human")
        if queue_is_durable():
            # The task row is written in this transaction: the explanation and its scoring are committed
            # together, so a crash right after the answer cannot leave an explanation nobody will score.
            enqueue_score(explanation)
    if not queue_is_durable():
        try:  # embedded mode scores here, after the commit; a failing scorer must not lose the explanation
            enqueue_score(explanation)
        except Exception:
            log.exception("could not score explanation %s", explanation.pk)
    score = explanation.scores.filter(scorer=DEFAULT_SCORER).first()
    ok = score is not None and score.status == ExplanationScore.Status.OK and score.value is not None
    new_best = bool(ok and score is not None and (previous is None or score.value > previous))
    return SubmitResult(explanation=explanation, score=score, new_best=new_best, previous_best=previous)


def cast_vote(user: AbstractBaseUser, explanation: Explanation, value: int) -> str:
    """Vote +1 or -1; voting again with the other value changes the vote. Returns "new", "changed" or "same"."""
    if value not in (1, -1):
        raise ExplanationError("A vote is +1 (up) or -1 (down).")
    if explanation.status != Explanation.Status.LIVE:
        raise ExplanationError("That explanation is not published, so it cannot be voted on.")
    if explanation.author_id is not None and explanation.author_id == user.pk:
        raise ExplanationError("You wrote this explanation, so you cannot vote on it; vote on others' instead.")
    with transaction.atomic():
        lock_player(user)
        existing = Vote.objects.filter(user=user, explanation=explanation).first()
        if existing is None:
            allowance = votes_allowance(user)
            if allowance.left <= 0:
                raise ExplanationError(f"You have cast {allowance.limit} votes today, the daily limit; "
                                       "come back tomorrow.")
            # Under the player's lock no other vote of theirs can appear here; the table's unique constraint
            # (one_vote_per_user) still guards any writer that does not take the lock.
            _, created = Vote.objects.get_or_create(user=user, explanation=explanation, defaults={"value": value})
            if created:
                return "new"
            existing = Vote.objects.get(user=user, explanation=explanation)
        if existing.value == value:
            return "same"
        existing.value = value
        existing.save(update_fields=["value", "updated"])
        return "changed"


def unvote(user: AbstractBaseUser, explanation: Explanation) -> bool:
    """Remove the user's vote; True if there was one."""
    with transaction.atomic():
        lock_player(user)
        deleted, _ = Vote.objects.filter(user=user, explanation=explanation).delete()
    return deleted > 0
