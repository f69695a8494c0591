"""Explanations as a page shows them: who wrote it, its scores, the votes, and what this player did."""

from __future__ import annotations

from dataclasses import dataclass, field

from django.http import HttpRequest

from featurepedia.web.catalog.models import Feature
from featurepedia.web.explanations.models import Explanation, ExplanationScore, Vote
from featurepedia.web.explanations.scoring import DEFAULT_SCORER
from featurepedia.web.explanations.services import visible


@dataclass
class Shown:
    """One explanation, ready for a template."""

    obj: Explanation
    author: str
    is_human: bool
    ups: int
    downs: int
    score: ExplanationScore | None
    scores: list[ExplanationScore] = field(default_factory=list)
    my_vote: int = 0
    mine: bool = False

    @property
    def score_pct(self) -> int:
        """The default score as a 0–100 bar width (scores are AUROC-like, 0.5 = chance)."""
        if self.score is None or self.score.value is None:
            return 0
        return max(0, min(100, round(self.score.value * 100)))


def author_label(e: Explanation) -> str:
    """A person's name, or the method (and model) that produced it."""
    if e.method == "human":
        if e.author is None:
            return "a former player"
        profile = getattr(e.author, "profile", None)
        return profile.name if profile is not None else e.author.get_username().split("@")[0]
    return f"{e.method} (automatic)"


def shown_explanations(request: HttpRequest, feature: Feature, method: str = "") -> list[Shown]:
    """The feature's visible explanations, best first, with this player's own votes marked."""
    rows = list(visible(feature))
    if method == "human":
        rows = [e for e in rows if e.method == "human"]
    elif method == "auto":
        rows = [e for e in rows if e.method != "human"]
    mine: dict[int, int] = {}
    user = request.user
    if user.is_authenticated:
        mine = dict(Vote.objects.filter(user=user, explanation__in=[e.pk for e in rows])
                    .values_list("explanation_id", "value"))
    shown = []
    for e in rows:
        scores = list(e.scores.all())
        default = next((s for s in scores if s.scorer == DEFAULT_SCORER), None)
        shown.append(Shown(e, author_label(e), e.method == "human", e.ups, e.downs, default,
                           scores, mine.get(e.pk, 0), user.is_authenticated and e.author_id == user.pk))
    return shown
