"""This-vs-That routes: a pair to compare, a choice, and a feature's ranking (game/versus.py).

Choices need an API key and act as its owner, earning points as on the site; one choice per person and pair.
"""

from __future__ import annotations

from typing import Annotated

from django.http import HttpRequest
from django.urls import reverse
from ninja import Field, Query, Router, Schema

from featurepedia.errors import NotFoundError
from featurepedia.web.api.identity import WriteKey, key_owner
from featurepedia.web.api.lookup import get_feature
from featurepedia.web.api.routes.modes_common import campaign_named, reader
from featurepedia.web.api.schemas import MAX_ID, Text
from featurepedia.web.game import versus
from featurepedia.web.game.players import Player

router = Router(tags=["This vs That"])


class PairQuery(Schema):
    campaign: Text = Field("", max_length=80, description="a campaign's slug; empty: the first running one")


class Brief(Schema):
    id: int
    text: str


class PairOut(Schema):
    campaign: str
    model: str
    source: str
    index: int
    feature_url: str = Field(description="the feature's page, with its clues")
    explanations: list[Brief] = Field(description="the two to compare, in id order (show them in random order)")


ExplanationId = Annotated[int, Field(ge=1, le=MAX_ID)]


class ChoiceIn(Schema):
    explanations: list[ExplanationId] = Field(min_length=2, max_length=2, description="the two explanation ids compared")
    better: ExplanationId | None = Field(description="the id of the better one, or null: both are bad")


class RatedOut(Schema):
    id: int
    text: str
    rating: float = Field(description="log-odds of being judged better than a just-good-enough explanation")
    sd: float = Field(description="its uncertainty (Laplace approximation)")
    score: float | None = Field(description="the automatic score, the rating's prior")
    comparisons: int
    wins: int
    judged_bad: int = Field(description="'both bad' answers it was part of")


class RankingOut(Schema):
    comparisons: int
    people: int = Field(description="distinct people (and visitors) who compared")
    settled: bool = Field(description=f"at least {versus.MIN_COMPARISONS} comparisons: the ranking decides the "
                                      "feature's best explanation")
    explanations: list[RatedOut] = Field(description="best first")


class ChoiceOut(Schema):
    message: str
    points: int
    agree: int = Field(description="earlier answers to this pair that chose the same")
    others: int = Field(description="earlier answers to this pair")
    ranking: RankingOut


def _ranking(fr: versus.FeatureRanking) -> dict[str, object]:
    return {"comparisons": fr.comparisons, "people": fr.people, "settled": fr.settled,
            "explanations": [{"id": r.explanation.pk, "text": r.explanation.text, "rating": r.rating, "sd": r.sd,
                              "score": r.score, "comparisons": r.comparisons, "wins": r.wins,
                              "judged_bad": r.judged_bad} for r in fr.rated]}


@router.get("/versus/pair", response=PairOut, summary="A pair of explanations to compare",
            description="The most informative pair of the campaign: close in rating, few comparisons so far; "
                        "with an API key, leaving out what its owner answered or wrote.")
def pair(request: HttpRequest, query: Query[PairQuery]) -> dict[str, object]:
    camp = campaign_named(query.campaign)
    found = versus.next_pair(camp, reader(request))
    if found is None:
        raise NotFoundError(f"campaign {camp.slug!r} has no pair left to compare: it needs features with two "
                            "explanations or more (write some), or you compared them all")
    feature, first, second = found
    src = feature.source
    return {"campaign": camp.slug, "model": src.model.slug, "source": src.slug, "index": feature.index,
            "feature_url": reverse("feature", args=[src.model.slug, src.slug, feature.index]),
            "explanations": [{"id": e.pk, "text": e.text} for e in (first, second)]}


@router.post("/versus/choices", response={201: ChoiceOut}, auth=WriteKey(), summary="Say which explanation fits better",
             description="Stored at once (201); one choice per person and pair (409 for a second). Needs an API key.")
def choose(request: HttpRequest, body: ChoiceIn) -> tuple[int, dict[str, object]]:
    a, b = body.explanations
    player = Player(user=key_owner(request))
    recorded = versus.record(player, a, b, body.better)
    fr = versus.feature_ranking(recorded.comparison.feature)
    return 201, {"message": versus.outcome_message(recorded, player), "points": recorded.points,
                 "agree": recorded.agree, "others": recorded.others, "ranking": _ranking(fr)}


@router.get("/features/{model}/{source}/{index}/ranking", response=RankingOut,
            summary="A feature's This-vs-That ranking",
            description="Each live explanation's Bradley–Terry rating (people's choices with the automatic score as "
                        "prior) and its uncertainty, best first, and how many people compared.")
def feature_ranking(request: HttpRequest, model: str, source: str, index: int) -> dict[str, object]:
    return _ranking(versus.feature_ranking(get_feature(model, source, index)))
