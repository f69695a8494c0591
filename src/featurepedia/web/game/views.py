"""The game's pages: a puzzle, answering it, onboarding, and the leaderboards.

A visitor plays without an account: their answers are kept in the session (pending.py) and credited when
they sign up. The puzzle in progress, the way back and what was seen also live in the session.
"""

from __future__ import annotations

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST
from django_countries import countries

from featurepedia.web.catalog import pagecache
from featurepedia.web.catalog.models import Feature
from featurepedia.web.explanations import services
from featurepedia.web.explanations.limits import explanations_allowance
from featurepedia.web.explanations.presenting import shown_explanations
from featurepedia.web.game import activity, pending, points
from featurepedia.web.game import leaderboard as boards
from featurepedia.web.game.actions import ANSWERS, apply_answer
from featurepedia.web.game.clues import clues_for
from featurepedia.web.game.models import Campaign
from featurepedia.web.game.prefs import get_prefs, set_prefs
from featurepedia.web.game.puzzles import campaign_progress, next_puzzle, seen_by
from featurepedia.web.game.session import PlayState
from featurepedia.web.navigation import redirect_back


def play(request: HttpRequest) -> HttpResponseBase:
    """Start playing: the puzzle in progress, or a new one, in the main campaign (``Campaign.main``)."""
    campaign = Campaign.main()
    if campaign is None:
        return render(request, "game/no_campaign.html", status=404)
    return redirect("campaign-play", campaign=campaign.slug)


def campaign_play(request: HttpRequest, campaign: str) -> HttpResponseBase:
    """Continue the puzzle in progress in this campaign, or choose the next one."""
    camp = get_object_or_404(Campaign, slug=campaign)
    if not camp.is_running():
        from featurepedia.web.game.contest_views import closed

        return closed(request, camp)
    state = PlayState(request)
    current = state.current(camp)
    if current is None:
        feature = next_puzzle(camp, exclude=state.seen() | seen_by(request.user))
        if feature is None:
            return render(request, "game/campaign_done.html", {"campaign": camp})
        current = feature.pk
        state.set_current(camp, current)
    return redirect("puzzle", campaign=camp.slug, feature_id=current)


def puzzle(request: HttpRequest, campaign: str, feature_id: int) -> HttpResponse:
    """One puzzle: clues, explanations (hidden in blind mode until answered), and the ways to answer."""
    camp = get_object_or_404(Campaign, slug=campaign)
    feature = get_object_or_404(Feature.objects.select_related("source__model"), pk=feature_id)
    if not camp.feature_queryset().filter(pk=feature.pk).exists():
        raise Http404("this feature is not part of the campaign")
    return render(request, "game/puzzle.html", _puzzle_context(request, camp, feature))


def _puzzle_context(request: HttpRequest, camp: Campaign, feature: Feature, **extra: object) -> dict:
    prefs = get_prefs(request)
    state = PlayState(request)
    state.visit(camp, feature.pk)
    answered = state.answer(feature.pk)
    revealed = not prefs.blind_mode or answered is not None or request.GET.get("reveal") == "1"
    explained, total = campaign_progress(camp)
    context = {
        "campaign": camp, "feature": feature, "src": feature.source, "prefs": prefs,
        "clues": clues_for(feature, prefs.explicit_filter),
        "explanations": _explanations(request, feature, predictions=prefs.advanced_mode and revealed),
        "revealed": revealed, "answered": answered,
        "previous": state.previous(camp, feature.pk), "progress": (explained, total),
        "answers": ANSWERS, "pending": pending.count(request), "text": extra.pop("text", ""),
        "feature_url": reverse("feature", args=[feature.source.model.slug, feature.source.slug, feature.index]),
    }
    if request.user.is_authenticated:
        context.update(points=points.total(request.user), streak=points.streak(request.user),
                       allowance=explanations_allowance(request.user))
    context.update(extra)
    return context


def _explanations(request: HttpRequest, feature: Feature, predictions: bool = False) -> list:
    """The puzzle's explanations; a visitor's list is everyone's (no votes of their own in it), so it is
    cached under the feature's activity stamp (explanations, scores, votes, their authors' names and bans).
    With ``predictions`` (advanced mode, explanations shown) the scorer's per-token predictions come too."""
    if request.user.is_authenticated or predictions:
        return shown_explanations(request, feature, predictions=predictions)
    return pagecache.cached("puzzle-explanations", (feature.pk, *activity.stamp(feature.pk)),
                            lambda: shown_explanations(request, feature))


@require_POST
def answer(request: HttpRequest, campaign: str, feature_id: int) -> HttpResponseBase:
    """Apply an answer (vote, explain, skip, flag); a first vote asks for confirmation once."""
    camp = get_object_or_404(Campaign, slug=campaign)
    feature = get_object_or_404(Feature.objects.select_related("source__model"), pk=feature_id)
    kind = request.POST.get("kind", "")
    data = {"kind": kind, "explanation": request.POST.get("explanation"), "text": request.POST.get("text", ""),
            "value": 1}
    prefs = get_prefs(request)
    if kind == "vote" and not prefs.confirmed_first_vote:
        if request.POST.get("confirmed") != "1":
            chosen = next((e for e in shown_explanations(request, feature)
                           if str(e.obj.pk) == str(data["explanation"])), None)
            if chosen is None:
                messages.error(request, "Pick one of the explanations to vote for.")
                return redirect("puzzle", campaign=camp.slug, feature_id=feature.pk)
            return render(request, "game/confirm_vote.html", {"campaign": camp, "feature": feature, "chosen": chosen})
        set_prefs(request, confirmed_first_vote=True)
    state = PlayState(request)
    try:
        message = _apply(request, camp, feature, data)
    except services.ExplanationError as err:
        messages.error(request, str(err))
        context = _puzzle_context(request, camp, feature, text=data["text"], write_error=str(err))
        return render(request, "game/puzzle.html", context, status=400)
    state.mark_seen(feature.pk)
    state.clear_current(camp)
    if kind == "skip":
        return redirect("campaign-play", campaign=camp.slug)
    state.set_answer(feature.pk, kind, message)
    return redirect(reverse("puzzle", args=[camp.slug, feature.pk]) + "#result")


def _apply(request: HttpRequest, camp: Campaign, feature: Feature, data: dict) -> str:
    if data["kind"] not in ANSWERS:
        raise services.ExplanationError("Choose an answer: vote, write an explanation, skip or flag the feature.")
    if request.user.is_authenticated:
        outcome = apply_answer(request.user, feature, camp, data)
        return outcome.message + (f" +{outcome.points} point{'s' if outcome.points != 1 else ''}."
                                  if outcome.points else "")
    # A visitor: check the answer now (so errors show at once), keep it, and credit it after sign-up.
    if data["kind"] == "explain":
        data["text"] = services.clean_text(data["text"])
    elif data["kind"] == "vote" and not feature.explanations.filter(pk=data["explanation"]).exists():
        raise services.ExplanationError("That explanation is gone; pick another one.")
    request.session["came_from_game"] = True
    if data["kind"] != "skip":
        pending.keep(request, feature, camp, data)
    return {"vote": "Vote kept.", "explain": "Explanation kept; it is scored when you sign up.",
            "polysemantic": "Flag kept.", "none-fit": "Flag kept.", "skip": ""}[data["kind"]] + \
        " Sign up to save your answers and earn points."


@require_POST
def onboarding(request: HttpRequest) -> HttpResponseBase:
    """Finish the tutorial; it asks whether to hide clues with explicit words."""
    set_prefs(request, onboarded=True, explicit_filter=request.POST.get("explicit_filter") == "on")
    return redirect_back(request, reverse("play"))


def leaderboard(request: HttpRequest) -> HttpResponse:
    """Top players: all time, this week, this month; optionally within a country or region."""
    period = request.GET.get("period", "all")
    if period not in boards.PERIODS:
        period = "all"
    country = request.GET.get("country", "").strip().upper()[:2]
    region = request.GET.get("region", "").strip()[:60]
    rows = boards.leaderboard(period, country, region)
    me = boards.rank_of(request.user, period) if request.user.is_authenticated else (None, 0)
    return render(request, "game/leaderboard.html", {
        "rows": rows, "period": period, "periods": boards.PERIODS, "country": country, "region": region,
        "countries": list(countries),
        "my_rank": me[0], "my_points": me[1]})
