"""Our explanation routes: list a feature's explanations, read one, submit one, vote.

Writes need a valid API key and act as its owner through the same services as the site's forms, so
near-duplicates become upvotes, daily limits apply, new explanations are scored at once and points are
earned exactly as when playing.
"""

from __future__ import annotations

from typing import Annotated

from django.db import transaction
from django.http import HttpRequest
from ninja import Path, Query, Router

from featurepedia.errors import NotFoundError
from featurepedia.web.api.identity import WriteKey, key_owner
from featurepedia.web.api.lookup import get_feature
from featurepedia.web.api.paging import Page, Paging, page
from featurepedia.web.api.schemas import MAX_ID, ExplanationIn, ExplanationOut, SubmitOut, VoteIn, VoteOut
from featurepedia.web.explanations import services
from featurepedia.web.explanations.models import Explanation
from featurepedia.web.explanations.presenting import author_label
from featurepedia.web.explanations.scoring import DEFAULT_SCORER
from featurepedia.web.game import points
from featurepedia.web.game.actions import apply_answer
from featurepedia.web.game.models import PlayEvent

router = Router(tags=["Explanations"])
ExplanationId = Annotated[int, Path(ge=1, le=MAX_ID, description="an explanation's id")]


def explanation_out(e: Explanation) -> dict[str, object]:
    """An explanation; vote tallies come from ``services.visible``'s annotations (0 on a bare row)."""
    src = e.feature.source
    scores = list(e.scores.all())
    default = next((s for s in scores if s.scorer == DEFAULT_SCORER and s.status == "ok"), None)
    return {"id": e.pk, "model": src.model.slug, "source": src.slug, "index": e.feature.index, "text": e.text,
            "method": e.method, "author": author_label(e), "ups": getattr(e, "ups", 0),
            "downs": getattr(e, "downs", 0), "score": default.value if default is not None else None,
            "scores": [{"scorer": s.scorer, "version": s.version, "value": s.value, "status": s.status,
                        "error": s.error} for s in scores],
            "created": e.created}


def _shown(e: Explanation) -> dict[str, object]:
    """``e`` as lists show it (with its tallies); a row lists hide (a banned author's) is shown bare."""
    listed = services.visible(e.feature_id).select_related("feature__source__model").filter(pk=e.pk).first()
    return explanation_out(listed or e)


def _live_explanation(pk: int) -> Explanation:
    found = (Explanation.objects.select_related("feature__source__model")
             .filter(pk=pk, status=Explanation.Status.LIVE).first())
    if found is None:
        raise NotFoundError(f"no published explanation {pk}; list a feature's explanations with "
                            "GET /api/features/{model}/{source}/{index}/explanations")
    return found


@router.get("/features/{model}/{source}/{index}/explanations", response=Page[ExplanationOut],
            summary="List a feature's explanations", description="Best first, as on the feature's page.")
def list_explanations(request: HttpRequest, model: str, source: str, index: int,
                      paging: Query[Paging]) -> dict[str, object]:
    feature = get_feature(model, source, index)
    rows = services.visible(feature).select_related("feature__source__model")
    return page(rows, paging, lambda explanations: [explanation_out(e) for e in explanations])


@router.get("/explanations/{explanation_id}", response=ExplanationOut, summary="Get an explanation and its scores")
def get_explanation(request: HttpRequest, explanation_id: ExplanationId) -> dict[str, object]:
    return _shown(_live_explanation(explanation_id))


@router.post("/features/{model}/{source}/{index}/explanations", response={200: SubmitOut, 201: SubmitOut},
             auth=WriteKey(), summary="Submit an explanation",
             description="Stored and scored at once (201), or, when it nearly repeats an explanation already "
                         "there, counted as your upvote for that one (200). Needs an API key.")
def submit_explanation(request: HttpRequest, model: str, source: str, index: int,
                       body: ExplanationIn) -> tuple[int, dict[str, object]]:
    feature = get_feature(model, source, index)
    user = key_owner(request)
    outcome = apply_answer(user, feature, None, {"kind": "explain", "text": body.text})
    result = outcome.submit
    assert result is not None and outcome.explanation is not None  # an "explain" answer always submits
    duplicate = result.duplicate_of is not None
    return (200 if duplicate else 201), {
        "outcome": "duplicate" if duplicate else "new", "message": outcome.message, "points": outcome.points,
        "new_best": result.new_best, "explanation": _shown(outcome.explanation)}


@router.post("/explanations/{explanation_id}/vote", response=VoteOut, auth=WriteKey(),
             summary="Vote on an explanation", description="Up (1), down (-1) or remove your vote (0). Needs an "
                                                           "API key; one vote per person, changeable.")
def vote(request: HttpRequest, explanation_id: ExplanationId, body: VoteIn) -> dict[str, object]:
    explanation = _live_explanation(explanation_id)
    user = key_owner(request)
    earned = 0
    if body.value == 0:
        outcome = "removed" if services.unvote(user, explanation) else "none"
    else:
        with transaction.atomic():
            outcome = services.cast_vote(user, explanation, body.value)
            if outcome == "new":  # as the site's vote button: a first vote earns its point
                earned = points.record(user, explanation.feature, PlayEvent.Action.VOTE, None, explanation).points
    return {"outcome": outcome, "points": earned, "explanation": _shown(explanation)}
