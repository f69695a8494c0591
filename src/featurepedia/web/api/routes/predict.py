"""Our Predict, daily-puzzle and comparison routes: the same puzzles, scores and points as the site's pages.

A puzzle gives texts as tokens without their activations; an answer sends a 0–10 mark per token and gets
back the score (the simulation scorer's correlation), the truth and the points. Answers need an API key
and count once per player (409 after that), as on the site.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from django.http import HttpRequest
from ninja import Field, Path, Query, Router, Schema

from featurepedia.errors import NotFoundError
from featurepedia.web.api.identity import WriteKey, api_key, key_owner
from featurepedia.web.api.lookup import get_source
from featurepedia.web.api.paging import Page, Paging, page
from featurepedia.web.api.schemas import MAX_ID, Text
from featurepedia.web.explanations.models import Explanation
from featurepedia.web.explanations.presenting import author_label
from featurepedia.web.game import daily as days
from featurepedia.web.game.compare import MEASURES, Comparison, FeatureRow, Scored, compare
from featurepedia.web.game.daily_views import share_address
from featurepedia.web.game.models import Campaign
from featurepedia.web.game.predict import (
    MAX_MARK,
    PredictError,
    PuzzleText,
    choose_texts,
    fingerprint,
    load_texts,
    squares,
)
from featurepedia.web.game.predictions import (
    Player,
    Saved,
    best_predictors,
    human_score,
    next_explanation,
    save_prediction,
)

router = Router(tags=["Game"])
ExplanationId = Annotated[int, Path(ge=1, le=MAX_ID, description="an explanation's id")]
Mark = Annotated[float, Field(ge=0, le=MAX_MARK)]
CampaignSlug = Annotated[Text, Query("", max_length=80, description="a campaign's slug; the first running one if empty")]


class PuzzleTextOut(Schema):
    example_id: int = Field(description="the stored example the text is cut from")
    start: int = Field(description="position of the first token in the example (after its BOS token)")
    tokens: list[str]


class PredictPuzzleOut(Schema):
    explanation_id: int
    explanation: str = Field(description="the explanation to predict from")
    method: str
    author: str
    model: str
    source: str
    index: int
    texts: list[PuzzleTextOut] = Field(description="mark each token of each text 0 (no) to 10 (fires most)")
    fingerprint: str = Field(description="names the texts; the answer may send it back to be checked")


class MarksIn(Schema):
    marks: list[Annotated[list[Mark], Field(max_length=256)]] = Field(
        max_length=16, description="one list per text, one mark 0–10 per token, in the puzzle's order")
    fingerprint: Text = Field("", max_length=2000, description="the puzzle's fingerprint: refused if the texts "
                                                               "changed since (optional)")


class PredictResultOut(Schema):
    score: float = Field(description="Pearson correlation of the marks with the true activations, all tokens pooled")
    squares: str = Field(description="one square per text: 🟩 good, 🟨 close, ⬜ off")
    points: int
    truth: list[list[float]] = Field(description="the true activation of every token (0 below active)")
    human_simulation: float | None = Field(description="the explanation's score from every player so far")
    players: int


class DailyOut(Schema):
    campaign: str
    date: dt.date
    number: int = Field(description="the puzzle's number in its campaign")
    explanation: str
    texts: list[PuzzleTextOut]
    fingerprint: str


class DailyIn(MarksIn):
    campaign: Text = Field("", max_length=80, description="a campaign's slug; the first running one if empty")


class DailyResultOut(PredictResultOut):
    share: str = Field(description="the result as text to share")
    model: str
    source: str
    index: int


class KindOut(Schema):
    kind: str
    explanations: int
    automatic: float | None
    automatic_n: int
    human_simulation: float | None
    human_simulation_n: int
    pairwise_rating: float | None = Field(description="null until a This-vs-That rating exists")
    pairwise_rating_n: int


class ScoredOut(Schema):
    explanation_id: int
    text: str
    method: str
    automatic: float | None
    human_simulation: float | None
    players: int
    pairwise_rating: float | None


class CompareRowOut(Schema):
    model: str
    source: str
    index: int
    human: ScoredOut
    machine: ScoredOut


class HeadToHeadOut(Schema):
    measure: str
    features: int
    human_wins: int
    machine_wins: int


class CompareOut(Schema):
    kinds: list[KindOut]
    head_to_head: list[HeadToHeadOut]
    agreement: float | None = Field(description="Pearson r of automatic vs human simulation scores")
    agreement_n: int
    features: Page[CompareRowOut]


class CompareQuery(Schema):
    model: Text = Field("", max_length=100, description="with source: that source's features only")
    source: Text = Field("", max_length=100)


class PredictorOut(Schema):
    rank: int
    name: str
    skill: float = Field(description="mean score of the player's predictions")
    predictions: int


def _texts_out(texts: list[PuzzleText]) -> list[dict[str, object]]:
    return [{"example_id": t.example, "start": t.start, "tokens": t.tokens} for t in texts]


def _puzzle(explanation: Explanation) -> dict[str, object]:
    texts = _predict_texts(explanation)
    src = explanation.feature.source
    return {"explanation_id": explanation.pk, "explanation": explanation.text, "method": explanation.method,
            "author": author_label(explanation), "model": src.model.slug, "source": src.slug,
            "index": explanation.feature.index, "texts": _texts_out(texts), "fingerprint": fingerprint(texts)}


def _predict_texts(explanation: Explanation) -> list[PuzzleText]:
    texts = choose_texts(explanation.feature, seed=explanation.pk)  # the site's texts for this explanation
    if not texts:
        raise NotFoundError(f"explanation {explanation.pk}'s feature has no held-out texts to predict (it needs "
                            "activating and non-activating examples); try GET /api/predict/next")
    return texts


def _predictable(explanation_id: int) -> Explanation:
    found = (Explanation.objects.filter(pk=explanation_id, status=Explanation.Status.LIVE)
             .exclude(author__profile__banned=True).select_related("feature__source__model", "author__profile").first())
    if found is None:
        raise NotFoundError(f"no published explanation {explanation_id}; GET /api/predict/next gives one to predict")
    return found


def _campaign(slug: str) -> Campaign:
    camp = Campaign.objects.filter(slug=slug).first() if slug else Campaign.main()
    if camp is None:
        raise NotFoundError(f"no campaign {slug!r}; GET /api/campaigns lists them" if slug
                            else "no campaign is running; GET /api/campaigns lists them")
    return camp


def _check(body: MarksIn, texts: list[PuzzleText]) -> None:
    if body.fingerprint and body.fingerprint != fingerprint(texts):
        raise PredictError("the puzzle's texts changed since you fetched it; fetch it again and answer anew")


def _result(saved: Saved) -> dict[str, object]:
    prediction = saved.prediction
    human = human_score(prediction.explanation)
    return {"score": prediction.score, "squares": squares(prediction.marks, prediction.truth),
            "points": saved.points, "truth": prediction.truth, "human_simulation": human.value,
            "players": human.players}


@router.get("/predict/next", response=PredictPuzzleOut, summary="A puzzle to predict",
            description="One of the least-predicted explanations of a campaign (the first running one by "
                        "default) that the key's owner has not predicted.")
def next_puzzle(request: HttpRequest, campaign: CampaignSlug = "") -> dict[str, object]:
    camp = _campaign(campaign)
    key = api_key(request)
    explanation = next_explanation(camp, Player(key.user if key else None, ""))
    if explanation is None:
        raise NotFoundError(f"nothing left to predict in campaign {camp.slug!r}")
    return _puzzle(explanation)


@router.get("/explanations/{explanation_id}/predict", response=PredictPuzzleOut,
            summary="The Predict puzzle of an explanation")
def get_puzzle(request: HttpRequest, explanation_id: ExplanationId) -> dict[str, object]:
    return _puzzle(_predictable(explanation_id))


@router.post("/explanations/{explanation_id}/predict", response={201: PredictResultOut}, auth=WriteKey(),
             summary="Answer a Predict puzzle",
             description="Scored against the true activations and stored; once per player (409 after). Needs an "
                         "API key.")
def answer_puzzle(request: HttpRequest, explanation_id: ExplanationId, body: MarksIn) -> tuple[int, dict[str, object]]:
    explanation = _predictable(explanation_id)
    texts = _predict_texts(explanation)
    _check(body, texts)
    saved = save_prediction(explanation, texts, body.marks, Player(key_owner(request), ""))
    return 201, _result(saved)


@router.get("/daily", response=DailyOut, summary="Today's daily puzzle",
            description="The same feature for everyone today (UTC), as a Predict puzzle; its feature is told "
                        "with the answer.")
def get_daily(request: HttpRequest, campaign: CampaignSlug = "") -> dict[str, object]:
    camp = _campaign(campaign)
    daily = days.daily_for(camp)
    texts = load_texts(daily.feature, daily.texts) if daily is not None else []
    if daily is None or not texts:
        raise NotFoundError(f"campaign {camp.slug!r} has no daily puzzle today: no feature has enough examples "
                            "and an explanation")
    return {"campaign": camp.slug, "date": daily.date, "number": days.number(daily),
            "explanation": daily.explanation.text, "texts": _texts_out(texts), "fingerprint": fingerprint(texts)}


@router.post("/daily", response={201: DailyResultOut}, auth=WriteKey(), summary="Answer today's daily puzzle",
             description="Once per player and day (409 after). Needs an API key.")
def answer_daily(request: HttpRequest, body: DailyIn) -> tuple[int, dict[str, object]]:
    camp = _campaign(body.campaign)
    daily = days.daily_for(camp)
    texts = load_texts(daily.feature, daily.texts) if daily is not None else []
    if daily is None or not texts:
        raise NotFoundError(f"campaign {camp.slug!r} has no daily puzzle today")
    _check(body, texts)
    saved = save_prediction(daily.explanation, texts, body.marks, Player(key_owner(request), ""), campaign=camp,
                            daily=daily)
    src = daily.feature.source
    return 201, {**_result(saved), "share": days.share_text(daily, saved.prediction, share_address(request, daily)),
                 "model": src.model.slug, "source": src.slug, "index": daily.feature.index}


def _scored(s: Scored) -> dict[str, object]:
    return {"explanation_id": s.id, "text": s.text, "method": s.method, "automatic": s.automatic,
            "human_simulation": s.human, "players": s.players, "pairwise_rating": s.rating}


def _row(r: FeatureRow) -> dict[str, object]:
    return {"model": r.model, "source": r.source, "index": r.index, "human": _scored(r.human),
            "machine": _scored(r.machine)}


def _kinds(result: Comparison) -> list[dict[str, object]]:
    out = []
    for kind, summary in zip(("human", "machine"), result.kinds, strict=True):
        row: dict[str, object] = {"kind": kind, "explanations": summary.explanations}
        for (name, _), field in zip(MEASURES, ("automatic", "human_simulation", "pairwise_rating"), strict=True):
            row[field], row[f"{field}_n"] = summary.means[name], summary.counts[name]
        out.append(row)
    return out


@router.get("/compare", response=CompareOut, summary="Human-written against automatic explanations",
            description="Overall means, head-to-head counts and, paged, each feature's best of each kind.")
def compare_route(request: HttpRequest, query: Query[CompareQuery], paging: Query[Paging]) -> dict[str, object]:
    source = get_source(query.model, query.source) if query.model or query.source else None
    result = compare(source)
    return {"kinds": _kinds(result),
            "head_to_head": [{"measure": d.measure, "features": d.features, "human_wins": d.human_wins,
                              "machine_wins": d.machine_wins} for d in result.head_to_head],
            "agreement": result.agreement, "agreement_n": result.agreement_n,
            "features": page(result.rows, paging, lambda rows: [_row(r) for r in rows])}


@router.get("/predict/players", response=list[PredictorOut], summary="Best predictors",
            description="Players by skill (the mean score of their predictions), with at least 3 predictions.")
def predictors(request: HttpRequest, limit: Annotated[int, Query(20, ge=1, le=100)] = 20) -> list[dict[str, object]]:
    return [{"rank": r.rank, "name": r.name, "skill": r.skill, "predictions": r.predictions}
            for r in best_predictors(limit)]
