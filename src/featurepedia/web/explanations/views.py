"""Explanation actions from feature pages: write (or save a draft), vote, unvote, report, publish drafts.

With htmx a vote swaps just the list of explanations; without JavaScript every action is a plain form
post that redirects back, so the site works either way.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.auth.views import redirect_to_login
from django.db import transaction
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from featurepedia.web.catalog.models import Feature
from featurepedia.web.explanations import services
from featurepedia.web.explanations.forms import ExplanationForm, ReportForm
from featurepedia.web.explanations.models import Explanation
from featurepedia.web.explanations.presenting import shown_explanations
from featurepedia.web.game import points
from featurepedia.web.game.models import Flag, PlayEvent
from featurepedia.web.game.prefs import get_prefs
from featurepedia.web.navigation import redirect_back

KEPT_TEXT = "kept_text"  # session: text of a submission that failed, by feature id, to refill the form


def feature_url(feature: Feature) -> str:
    return reverse("feature", args=[feature.source.model.slug, feature.source.slug, feature.index])


def _feature(feature_id: int) -> Feature:
    return get_object_or_404(Feature.objects.select_related("source__model"), pk=feature_id)


@require_POST
def vote(request: HttpRequest, pk: int) -> HttpResponseBase:
    """Up (value=1), down (value=-1) or remove (value=0) this player's vote."""
    explanation = get_object_or_404(Explanation.objects.select_related("feature__source__model"), pk=pk)
    feature = explanation.feature
    if not request.user.is_authenticated:
        return redirect_to_login(feature_url(feature))
    value = request.POST.get("value", "1")
    try:
        if value == "0":
            services.unvote(request.user, explanation)
            messages.info(request, f"Vote removed from “{explanation.text}”.")
        else:
            with transaction.atomic():  # the vote and its points are stored together
                outcome = services.cast_vote(request.user, explanation, 1 if value == "1" else -1)
                if outcome == "new":
                    points.record(request.user, feature, PlayEvent.Action.VOTE, None, explanation)
            verb = {"new": "Voted", "changed": "Vote changed", "same": "Already voted"}[outcome]
            messages.success(request, f"{verb}: {'up' if value == '1' else 'down'} for “{explanation.text}”.")
    except services.ExplanationError as err:
        messages.error(request, str(err))
    if request.headers.get("HX-Request"):
        return explanation_list(request, feature)
    return redirect_back(request, feature_url(feature))


def explanation_list(request: HttpRequest, feature: Feature) -> HttpResponse:
    """The explanations block of a feature page (htmx swaps it in after a vote)."""
    prefs = get_prefs(request)
    method = request.GET.get("method", "") if prefs.advanced_mode else ""
    return render(request, "explanations/_list.html", {
        "feature": feature, "explanations": shown_explanations(request, feature, method, predictions=prefs.advanced_mode),
        "prefs": prefs, "htmx": True,
        "next": request.POST.get("next") or feature_url(feature)})


@require_POST
def write(request: HttpRequest, feature_id: int) -> HttpResponseBase:
    """Submit an explanation (scored at once) or, with action=draft, keep it as a draft."""
    feature = _feature(feature_id)
    text = request.POST.get("text", "")
    if not request.user.is_authenticated:
        request.session.setdefault(KEPT_TEXT, {})[str(feature.pk)] = text[:2000]
        request.session.modified = True
        messages.info(request, "Sign up or sign in to publish your explanation; we kept what you wrote.")
        return redirect_to_login(feature_url(feature) + "#write")
    form = ExplanationForm(request.POST)
    try:
        if not form.is_valid():
            raise services.ExplanationError(" ".join(form.errors["text"]))
        if request.POST.get("action") == "draft":
            services.save_draft(request.user, feature, form.cleaned_data["text"])
            messages.success(request, "Draft saved. Publish it from your profile when it is ready.")
        else:
            _publish(request, feature, form.cleaned_data["text"])
    except services.ExplanationError as err:
        request.session.setdefault(KEPT_TEXT, {})[str(feature.pk)] = text[:2000]
        request.session.modified = True
        messages.error(request, str(err))
        return redirect_back(request, feature_url(feature) + "#write")
    request.session.get(KEPT_TEXT, {}).pop(str(feature.pk), None)
    request.session.modified = True
    return redirect_back(request, feature_url(feature) + "#explanations")


def _publish(request: HttpRequest, feature: Feature, text: str, draft: Explanation | None = None) -> None:
    from featurepedia.web.game.actions import apply_answer

    if draft is not None:
        result = services.submit(request.user, feature, text, draft=draft)
        if result.duplicate_of is not None:
            messages.info(request, f"“{result.duplicate_of.text}” already says that; your draft became an upvote.")
        else:
            messages.success(request, "Published." + (" New best!" if result.new_best else ""))
        return
    outcome = apply_answer(request.user, feature, None, {"kind": "explain", "text": text})
    level = messages.INFO if outcome.kind == "duplicate" else messages.SUCCESS
    messages.add_message(request, level, outcome.message + (f" +{outcome.points} points." if outcome.points else ""))


@login_required
@require_POST
def publish_draft(request: HttpRequest, pk: int) -> HttpResponseBase:
    draft = get_object_or_404(Explanation, pk=pk, author=request.user, status=Explanation.Status.DRAFT)
    try:
        _publish(request, _feature(draft.feature_id), draft.text, draft)
    except services.ExplanationError as err:
        messages.error(request, str(err))
    return redirect_back(request, reverse("profile"))


@login_required
@require_POST
def delete_draft(request: HttpRequest, pk: int) -> HttpResponseBase:
    draft = get_object_or_404(Explanation, pk=pk, author=request.user, status=Explanation.Status.DRAFT)
    draft.delete()
    messages.info(request, "Draft deleted.")
    return redirect_back(request, reverse("profile"))


@login_required
@require_POST
def report(request: HttpRequest, pk: int) -> HttpResponseBase:
    """Report an explanation to the moderators (spam, abuse, nonsense)."""
    explanation = get_object_or_404(Explanation.objects.select_related("feature__source__model"), pk=pk)
    form = ReportForm(request.POST)
    note = form.cleaned_data["note"] if form.is_valid() else ""
    Flag.objects.get_or_create(user=request.user, feature=explanation.feature, explanation=explanation,
                               kind=Flag.Kind.SPAM, defaults={"note": note})
    messages.success(request, "Thank you: a moderator will look at this explanation.")
    return redirect_back(request, feature_url(explanation.feature))
