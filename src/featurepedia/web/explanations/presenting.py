"""Explanations as a page shows them: who wrote it, its scores, the votes, and what this player did."""

from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import dataclass, field

from django.http import HttpRequest
from django.utils.safestring import SafeString, mark_safe

from featurepedia.errors import FeaturepediaError
from featurepedia.interp import ActivationRecord
from featurepedia.web.catalog.display import shade
from featurepedia.web.catalog.models import Feature
from featurepedia.web.explanations.models import Explanation, ExplanationScore, Vote
from featurepedia.web.explanations.scoring import DEFAULT_SCORER, feature_records
from featurepedia.web.explanations.services import visible
from featurepedia.web.text_rules import visible_token


@dataclass
class PredictedExample:
    """One scored example: its tokens shaded by the true activations and by the scorer's predictions."""

    actual: SafeString
    predicted: SafeString
    active: bool


@dataclass
class Predictions:
    """What a scorer predicted on every token of the examples it scored an explanation on."""

    scorer: str
    examples: list[PredictedExample]


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
    predictions: list[Predictions] = field(default_factory=list)

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


def _shaded(tokens: Sequence[str], values: Sequence[float], scale: float, low: float = 0.0,
            fmt: str = "{:.4g}") -> SafeString:
    """Token spans shaded by (value - low) / scale (classes a1..a20, never inline styles), exact value as
    the title; every token escaped."""
    spans = []
    for tok, val in zip(tokens, values, strict=True):
        cls = shade(val - low, scale)
        attr = f' class="{cls}"' if cls else ""
        spans.append(f'<span{attr} title="{html.escape(fmt.format(val))}">{html.escape(visible_token(tok))}</span>')
    return mark_safe("".join(spans))


def score_predictions(score: ExplanationScore, records: Sequence[ActivationRecord]) -> Predictions | None:
    """The per-token predictions a score stored (``details.token_predictions``) beside the true
    activations of the records it was computed on; None when it stored none, or the examples changed since
    (another number of examples or of tokens)."""
    token_predictions = (score.details or {}).get("token_predictions") if score.status == "ok" else None
    if not token_predictions or len(token_predictions) != len(records):
        return None
    if any(len(p) != len(r.tokens) for p, r in zip(token_predictions, records, strict=True)):
        return None
    flat = [float(v) for row in token_predictions for v in row]
    low, high = min(flat), max(flat)
    peak = max((max(r.values, default=0.0) for r in records), default=0.0)
    examples = [PredictedExample(_shaded(r.tokens, r.values, peak),
                                 _shaded(r.tokens, [float(v) for v in p], high - low, low, "predicted {:.3g}"),
                                 r.is_activating)
                for p, r in zip(token_predictions, records, strict=True)]
    return Predictions(score.scorer, examples)


def shown_explanations(request: HttpRequest, feature: Feature, method: str = "",
                       predictions: bool = False) -> list[Shown]:
    """The feature's visible explanations, best first, with this player's own votes marked; with
    ``predictions`` (advanced mode), each score's per-token predictions beside the true activations."""
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
    records: list[ActivationRecord] = []
    if predictions and rows:
        try:
            # As scoring split them (a dense feature's, without quiet texts, for the token-level default).
            records = feature_records(feature).split(require_non_activating=False).score
        except FeaturepediaError:  # no examples, none that is quiet, a source without its flags: none scored
            records = []
    shown = []
    for e in rows:
        scores = list(e.scores.all())
        default = next((s for s in scores if s.scorer == DEFAULT_SCORER), None)
        predicted = [p for p in (score_predictions(s, records) for s in scores) if p is not None] if records else []
        shown.append(Shown(e, author_label(e), e.method == "human", e.ups, e.downs, default,
                           scores, mine.get(e.pk, 0), user.is_authenticated and e.author_id == user.pk, predicted))
    return shown
