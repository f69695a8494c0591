"""Our game routes: campaigns (paged) and the leaderboards."""

from __future__ import annotations

from typing import Literal

from django.http import HttpRequest
from django.urls import reverse
from ninja import Field, Query, Router, Schema

from featurepedia.web.api.paging import MAX_LIMIT, Page, Paging, page
from featurepedia.web.api.schemas import CampaignOut, LeaderRow, Text
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
            "starts": c.starts, "ends": c.ends, "running": c.is_running(), "n_features": total,
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
