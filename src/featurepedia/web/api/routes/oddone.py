"""Odd-one-out routes: a round, an answer, and a feature's consistency (game/oddone.py).

Answers need an API key and act as its owner, earning points as on the site; one answer per person and
feature. A round does not say which feature it shows or which snippet is odd until answered.
"""

from __future__ import annotations

from typing import Annotated

from django.http import HttpRequest
from ninja import Field, Path, Query, Router, Schema

from featurepedia.errors import NotFoundError
from featurepedia.web.api.identity import WriteKey, key_owner
from featurepedia.web.api.lookup import get_feature
from featurepedia.web.api.routes.modes_common import campaign_named, reader
from featurepedia.web.api.schemas import MAX_ID, Text
from featurepedia.web.game import oddone, points
from featurepedia.web.game.models import OddOneRound
from featurepedia.web.game.players import Player

router = Router(tags=["Odd one out"])
RoundId = Annotated[int, Path(ge=1, le=MAX_ID, description="a round's id")]


class RoundQuery(Schema):
    campaign: Text = Field("", max_length=80, description="a campaign's slug; empty: the first running one")


class SnippetOut(Schema):
    position: int
    tokens: list[str]
    mark: int = Field(description="the position, in tokens, of the marked token (where it fires)")


class RoundOut(Schema):
    id: int
    campaign: str
    snippets: list[SnippetOut] = Field(description="all but one are the same feature's clues")


class AnswerIn(Schema):
    pick: int | None = Field(ge=0, le=100, description="the odd snippet's position, or null: they are all alike")


class ConsistencyOut(Schema):
    answers: int
    found: int = Field(description="answers that picked the intruder")
    consistency: float | None = Field(description="the finding rate corrected for chance: 0 chance, 1 always found")
    low: float | None = Field(description="its 90% interval")
    high: float | None
    flagged: bool = Field(description="flagged polysemantic automatically")


class AnswerOut(Schema):
    found: bool
    odd: int = Field(description="the intruder's position")
    intruder: str = Field(description="not-firing or other-feature")
    points: int
    model: str
    source: str
    index: int
    consistency: ConsistencyOut


def _consistency(c: oddone.Consistency) -> dict[str, object]:
    return {"answers": c.answers, "found": c.found, "consistency": c.value, "low": c.low, "high": c.high,
            "flagged": c.flagged}


@router.get("/odd-one-out/round", response=RoundOut, summary="A round of Odd one out",
            description="Snippets of one feature's clues and one intruder; with an API key, of a feature its owner "
                        "has not answered.")
def get_round(request: HttpRequest, query: Query[RoundQuery]) -> dict[str, object]:
    camp = campaign_named(query.campaign)
    found = oddone.next_round(camp, reader(request), set())
    if found is None:
        raise NotFoundError(f"campaign {camp.slug!r} has no feature left with enough clues for Odd one out")
    return {"id": found.pk, "campaign": camp.slug,
            "snippets": [{"position": i, "tokens": s["tokens"], "mark": s["mark"]} for i, s in enumerate(found.snippets)]}


@router.post("/odd-one-out/rounds/{round_id}/answer", response={201: AnswerOut}, auth=WriteKey(),
             summary="Answer a round of Odd one out",
             description="Stored at once (201); one answer per person and feature (409 for a second). Needs an API key.")
def answer(request: HttpRequest, round_id: RoundId, body: AnswerIn) -> tuple[int, dict[str, object]]:
    round_ = OddOneRound.objects.select_related("feature__source__model").filter(pk=round_id).first()
    if round_ is None:
        raise NotFoundError(f"no round {round_id}; GET /api/odd-one-out/round gives one")
    row = oddone.answer(Player(user=key_owner(request)), round_, body.pick)
    f = round_.feature
    return 201, {"found": row.found, "odd": round_.odd, "intruder": round_.intruder,
                 "points": points.odd_one_points(row.found), "model": f.source.model.slug, "source": f.source.slug,
                 "index": f.index, "consistency": _consistency(oddone.consistency(f))}


@router.get("/features/{model}/{source}/{index}/consistency", response=ConsistencyOut,
            summary="A feature's Odd-one-out consistency",
            description="How often people told its clues from an intruder, corrected for chance, with a 90% interval.")
def feature_consistency(request: HttpRequest, model: str, source: str, index: int) -> dict[str, object]:
    return _consistency(oddone.consistency(get_feature(model, source, index)))
