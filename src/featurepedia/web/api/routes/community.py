"""Lists and comments in the API: read public (or key-shared) lists and a feature's comments; with an API
key, make lists, add features to them and post comments, under the same rules and limits as the site."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from django.http import HttpRequest
from ninja import Field, Path, Query, Router, Schema

from featurepedia.web.api.identity import WriteKey, api_key, key_owner
from featurepedia.web.api.lookup import get_feature
from featurepedia.web.api.paging import Page, Paging, page
from featurepedia.web.api.schemas import MAX_ID, Text
from featurepedia.web.community import services
from featurepedia.web.community.models import Comment, FeatureList
from featurepedia.web.explanations.services import best_explanations

router = Router(tags=["Lists and comments"])
ListId = Annotated[int, Path(ge=1, le=MAX_ID, description="a list's id")]


class ListFeatureOut(Schema):
    model: str
    source: str
    index: int
    note: str
    best_explanation: str | None


class ListOut(Schema):
    id: int
    title: str
    description: str
    public: bool
    owner: str
    test_text: str
    n_features: int
    updated: datetime


class ListDetail(ListOut):
    features: list[ListFeatureOut]


class ListIn(Schema):
    title: Text = Field(max_length=services.MAX_TITLE)
    description: Text = Field("", max_length=services.MAX_DESCRIPTION)
    public: bool = False
    test_text: Text = Field("", max_length=services.MAX_TEST_TEXT)


class ListFeatureIn(Schema):
    model: Text = Field(max_length=200)
    source: Text = Field(max_length=200)
    index: int = Field(ge=0, le=MAX_ID)
    note: Text = Field("", max_length=300)


class CommentOut(Schema):
    id: int
    author: str
    text: str
    created: datetime


class CommentIn(Schema):
    text: Text = Field(max_length=services.MAX_COMMENT)


def _list(lst: FeatureList) -> dict[str, object]:
    return {"id": lst.pk, "title": lst.title, "description": lst.description, "public": lst.public,
            "owner": lst.owner.profile.name, "test_text": lst.test_text, "n_features": lst.items.count(),
            "updated": lst.updated}


@router.get("/lists", response=Page[ListOut], summary="List public feature lists", description="Newest changes first.")
def public_lists(request: HttpRequest, paging: Query[Paging]) -> dict[str, object]:
    return page(services.public_lists(), paging, lambda rows: [_list(lst) for lst in rows])


@router.get("/lists/{list_id}", response=ListDetail, summary="Get a list and its features",
            description="A public list, one of the key owner's, or a private one with its share key (`?key=`).")
def get_list(request: HttpRequest, list_id: ListId, key: str = "") -> dict[str, object]:
    owner = api_key(request)
    user = owner.user if owner is not None else request.user
    lst = services.viewable(user, list_id, key)
    items = list(lst.items.select_related("feature__source__model"))
    best = best_explanations([i.feature_id for i in items])
    features = [{"model": i.feature.source.model.slug, "source": i.feature.source.slug, "index": i.feature.index,
                 "note": i.note, "best_explanation": best[i.feature_id].text if i.feature_id in best else None}
                for i in items]
    return {**_list(lst), "features": features}


@router.post("/lists", response={201: ListDetail}, auth=WriteKey(), summary="Make a list")
def make_list(request: HttpRequest, body: ListIn) -> tuple[int, dict[str, object]]:
    lst = services.create_list(key_owner(request), body.title, body.description, body.public, body.test_text)
    return 201, {**_list(lst), "features": []}


@router.post("/lists/{list_id}/features", response=ListDetail, auth=WriteKey(), summary="Add a feature to a list")
def add_to_list(request: HttpRequest, list_id: ListId, body: ListFeatureIn) -> dict[str, object]:
    user = key_owner(request)
    lst = services.viewable(user, list_id)
    services.add_to_list(user, lst, get_feature(body.model, body.source, body.index), body.note)
    return get_list(request, list_id)


@router.get("/features/{model}/{source}/{index}/comments", response=Page[CommentOut],
            summary="List a feature's comments", description="Oldest first; hidden ones are left out.")
def list_comments(request: HttpRequest, model: str, source: str, index: int,
                  paging: Query[Paging]) -> dict[str, object]:
    feature = get_feature(model, source, index)
    return page(services.visible_comments(feature), paging, lambda rows: [_comment(c) for c in rows])


@router.post("/features/{model}/{source}/{index}/comments", response={201: CommentOut}, auth=WriteKey(),
             summary="Comment on a feature", description="Rate limited as on the site (429 says how long to wait).")
def post_comment(request: HttpRequest, model: str, source: str, index: int,
                 body: CommentIn) -> tuple[int, dict[str, object]]:
    c = services.post_comment(key_owner(request), get_feature(model, source, index), body.text)
    return 201, _comment(c)


def _comment(c: Comment) -> dict[str, object]:
    return {"id": c.pk, "author": c.author.profile.name, "text": c.text, "created": c.created}
