"""Pages and actions for lists, bookmarks and comments; errors come back as messages on the page."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from featurepedia.errors import FeaturepediaError, NotFoundError
from featurepedia.web.catalog.models import Feature
from featurepedia.web.community import services
from featurepedia.web.community.models import Comment, FeatureList
from featurepedia.web.community.testing import run_test_text
from featurepedia.web.explanations.services import best_explanations
from featurepedia.web.navigation import redirect_back

LISTS_PER_PAGE = 30


def _feature_url(feature: Feature) -> str:
    return reverse("feature", args=[feature.source.model.slug, feature.source.slug, feature.index])


def _feature(feature_id: int) -> Feature:
    return get_object_or_404(Feature.objects.select_related("source__model"), pk=feature_id)


def lists_page(request: HttpRequest) -> HttpResponse:
    """Public lists, newest changes first, and (signed in) one's own."""
    public = Paginator(services.public_lists(), LISTS_PER_PAGE).get_page(request.GET.get("page"))
    mine = list(FeatureList.objects.filter(owner=request.user)) if request.user.is_authenticated else []
    return render(request, "community/lists.html", {"public": public, "mine": mine})


def _list_form(request: HttpRequest) -> dict[str, Any]:
    post = request.POST
    return {"title": post.get("title", ""), "description": post.get("description", ""),
            "public": post.get("public") == "on", "test_text": post.get("test_text", "")}


@login_required
def new_list(request: HttpRequest) -> HttpResponseBase:
    values: dict[str, Any] = {"title": "", "description": "", "public": False, "test_text": ""}
    if request.method == "POST":
        values = _list_form(request)
        try:
            lst = services.create_list(request.user, **values)
        except FeaturepediaError as err:
            messages.error(request, err.message)
        else:
            feature_id = request.POST.get("feature")
            if feature_id and feature_id.isdigit():
                feature = Feature.objects.filter(pk=int(feature_id)).first()
                if feature is not None:
                    services.add_to_list(request.user, lst, feature)
            messages.success(request, f"List “{lst.title}” made.")
            return redirect("list", pk=lst.pk)
    return render(request, "community/list_form.html", {"values": values, "editing": None})


@login_required
def edit_list(request: HttpRequest, pk: int) -> HttpResponseBase:
    lst = get_object_or_404(FeatureList, pk=pk, owner=request.user)
    values: dict[str, Any] = {"title": lst.title, "description": lst.description, "public": lst.public,
                              "test_text": lst.test_text}
    if request.method == "POST":
        values = _list_form(request)
        try:
            services.update_list(request.user, lst, **values)
        except FeaturepediaError as err:
            messages.error(request, err.message)
        else:
            messages.success(request, "List saved.")
            return redirect("list", pk=lst.pk)
    return render(request, "community/list_form.html", {"values": values, "editing": lst})


@login_required
@require_POST
def delete_list(request: HttpRequest, pk: int) -> HttpResponseBase:
    lst = get_object_or_404(FeatureList, pk=pk, owner=request.user)
    services.delete_list(request.user, lst)
    messages.info(request, f"List “{lst.title}” deleted.")
    return redirect("lists")


def list_page(request: HttpRequest, pk: int) -> HttpResponse:
    """A list's features with their best explanations; ``?test=1`` runs its test text through each."""
    key = request.GET.get("key", "")
    try:
        lst = services.viewable(request.user, pk, key)
    except NotFoundError as err:
        raise Http404(err.message) from err
    items = list(lst.items.select_related("feature__source__model"))
    best = best_explanations([i.feature_id for i in items])
    rows = [{"item": i, "url": _feature_url(i.feature), "best": best.get(i.feature_id)} for i in items]
    tested = run_test_text(lst.test_text, [i.feature for i in items]) \
        if lst.test_text and items and request.GET.get("test") == "1" else None
    for row, result in zip(rows, tested or [], strict=False):
        row["tested"] = result
    owner = request.user.is_authenticated and lst.owner_id == request.user.pk
    share = request.build_absolute_uri(reverse("list", args=[lst.pk]) + f"?key={lst.share_key}")
    return render(request, "community/list.html", {"lst": lst, "rows": rows, "tested": tested, "owner": owner,
                                                   "share_url": share, "key": key})


@login_required
@require_POST
def add_feature(request: HttpRequest, feature_id: int) -> HttpResponseBase:
    feature = _feature(feature_id)
    raw = request.POST.get("list", "")
    lst = FeatureList.objects.filter(pk=int(raw), owner=request.user).first() if raw.isdigit() else None
    if lst is None:
        messages.error(request, "Pick one of your lists, or make a new one.")
        return redirect_back(request, _feature_url(feature))
    try:
        added = services.add_to_list(request.user, lst, feature, request.POST.get("note", ""))
    except FeaturepediaError as err:
        messages.error(request, err.message)
    else:
        messages.success(request, f"Added to “{lst.title}”." if added else f"Already in “{lst.title}”.")
    return redirect_back(request, _feature_url(feature))


@login_required
@require_POST
def remove_feature(request: HttpRequest, pk: int, feature_id: int) -> HttpResponseBase:
    lst = get_object_or_404(FeatureList, pk=pk, owner=request.user)
    services.remove_from_list(request.user, lst, feature_id)
    return redirect("list", pk=lst.pk)


@login_required
@require_POST
def bookmark(request: HttpRequest, feature_id: int) -> HttpResponseBase:
    feature = _feature(feature_id)
    now = services.toggle_bookmark(request.user, feature)
    messages.success(request, "Bookmarked." if now else "Bookmark removed.")
    return redirect_back(request, _feature_url(feature))


@login_required
def bookmarks_page(request: HttpRequest) -> HttpResponse:
    marks = list(request.user.bookmarks.select_related("feature__source__model"))
    best = best_explanations([b.feature_id for b in marks])
    rows = [{"mark": b, "url": _feature_url(b.feature), "best": best.get(b.feature_id)} for b in marks]
    return render(request, "community/bookmarks.html", {"rows": rows})


@login_required
@require_POST
def comment(request: HttpRequest, feature_id: int) -> HttpResponseBase:
    feature = _feature(feature_id)
    try:
        services.post_comment(request.user, feature, request.POST.get("text", ""))
    except FeaturepediaError as err:
        messages.error(request, err.message)
        request.session["comment_draft"] = {str(feature.pk): request.POST.get("text", "")[:services.MAX_COMMENT]}
    else:
        request.session.pop("comment_draft", None)
        messages.success(request, "Comment posted.")
    return redirect(_feature_url(feature) + "#comments")


@login_required
@require_POST
def report_comment(request: HttpRequest, pk: int) -> HttpResponseBase:
    c = get_object_or_404(Comment.objects.select_related("feature__source__model"), pk=pk)
    try:
        services.report_comment(request.user, c, request.POST.get("note", ""))
    except FeaturepediaError as err:
        messages.error(request, err.message)
    else:
        messages.success(request, "Thank you: a moderator will look at this comment.")
    return redirect(_feature_url(c.feature) + "#comments")


@login_required
@require_POST
def delete_comment(request: HttpRequest, pk: int) -> HttpResponseBase:
    c = get_object_or_404(Comment.objects.select_related("feature__source__model"), pk=pk)
    try:
        services.delete_comment(request.user, c)
    except FeaturepediaError as err:
        messages.error(request, err.message)
    else:
        messages.info(request, "Comment deleted.")
    return redirect(_feature_url(c.feature) + "#comments")
