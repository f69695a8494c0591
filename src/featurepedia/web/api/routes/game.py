"""Our game routes: campaigns (paged), the leaderboards, and contests with their boards and results."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from django.http import HttpRequest
from django.urls import reverse
from ninja import Field, Query, Router, Schema

from featurepedia.errors import NotFoundError
from featurepedia.web.api.paging import MAX_LIMIT, Page, Paging, page
from featurepedia.web.api.schemas import CampaignOut, LeaderRow, Text
from featurepedia.web.game import contests as quests
from featurepedia.web.game import leaderboard as boards
from featurepedia.web.game.models import Campaign
from featurepedia.web.game.puzzles import campaign_progress

router = Router(tags=["Game"])


@router.get("/campaigns", response=Page[CampaignOut], summary="List campaigns",
            description="Active campaigns, newest first; `running` says whether one is open now.")
def list_campaigns(request: HttpRequest, paging: Query[Paging]) -> dict[str, object]:
    rows = Campaign.objects.filter(active=True).select_related("source__model").order_by("-created", "slug")
    return page(rows, paging, lambda campaigns: [_campaign(c) for c in campaigns])


def _campaign(c: Campaign) -> dict[str, object]:
    explained, total = campaign_progress(c)
    return {"slug": c.slug, "title": c.title, "description": c.description,
            "model": c.source.model.slug if c.source else None, "source": c.source.slug if c.source else None,
            "starts": c.starts, "ends": c.ends, "running": c.is_running(), "contest": c.contest, "n_features": total,
            "n_explained": explained, "url": reverse("campaign-play", kwargs={"campaign": c.slug})}


class BoardQuery(Schema):
    period: Literal["all", "week", "month"] = Field("all", description="all time, this week or this month (UTC)")
    country: Text = Field("", max_length=2, description="ISO 3166 code, e.g. GB: players of that country only")
    region: Text = Field("", max_length=60, description="with country: players of that region only")
    limit: int = Field(50, ge=1, le=MAX_LIMIT)


class BoardOut(Schema):
    period: str
    country: str
    region: str
    rows: list[LeaderRow]


@router.get("/leaderboard", response=BoardOut, summary="The leaderboard")
def leaderboard(request: HttpRequest, query: Query[BoardQuery]) -> dict[str, object]:
    rows = boards.leaderboard(query.period, query.country.strip().upper(), query.region.strip(), query.limit)
    return {"period": query.period, "country": query.country.upper(), "region": query.region,
            "rows": [{"rank": r.rank, "name": r.name, "country": r.country, "region": r.region, "points": r.points}
                     for r in rows]}


def _rows(rows: list[boards.Row]) -> list[dict[str, object]]:
    return [{"rank": r.rank, "name": r.name, "country": r.country, "region": r.region, "points": r.points}
            for r in rows]


class ContestOut(Schema):
    slug: str
    title: str
    description: str
    starts: datetime
    ends: datetime
    phase: Literal["upcoming", "running", "ended"]
    url: str = Field(description="its page: the board while it runs, the results once it ends")


class BestOut(Schema):
    explanation_id: int
    text: str
    author: str
    model: str
    source: str
    index: int
    score: float


class ContestDetail(ContestOut):
    n_players: int
    n_plays: int
    n_written: int = Field(description="explanations written on its features while it ran")
    standings: list[LeaderRow] = Field(description="the board (final once it ended)")
    best: list[BestOut] = Field(description="the best-scoring explanations written while it ran")


def _contest(c: Campaign) -> dict[str, object]:
    return {"slug": c.slug, "title": c.title, "description": c.description, "starts": c.starts, "ends": c.ends,
            "phase": c.phase(), "url": reverse("contest", kwargs={"slug": c.slug})}


@router.get("/contests", response=Page[ContestOut], summary="List contests",
            description="Contests (side quests), latest start first, with their phase now.")
def list_contests(request: HttpRequest, paging: Query[Paging]) -> dict[str, object]:
    rows = quests.contests().filter(active=True).order_by("-starts", "slug")
    return page(rows, paging, lambda contests: [_contest(c) for c in contests])


@router.get("/contests/{slug}", response=ContestDetail, summary="A contest's board or results")
def contest_detail(request: HttpRequest, slug: str, limit: int = 50) -> dict[str, object]:
    contest = quests.contests().filter(slug=slug).first()
    if contest is None:
        raise NotFoundError(f"no contest {slug!r}; GET /api/contests lists them")
    results = quests.results(contest, limit=max(1, min(limit, MAX_LIMIT)))
    best = [{"explanation_id": w.explanation.pk, "text": w.explanation.text,
             "author": w.explanation.author.profile.name if w.explanation.author else "",
             "model": w.explanation.feature.source.model.slug, "source": w.explanation.feature.source.slug,
             "index": w.explanation.feature.index, "score": w.score} for w in results.best]
    return {**_contest(contest), "n_players": results.n_players, "n_plays": results.n_plays,
            "n_written": results.n_written, "standings": _rows(results.standings), "best": best}
