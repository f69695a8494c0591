"""Odd-one-out's pages: a round of snippets, the answer, and the round revealed (oddone.py).

The round in progress is kept in the session per campaign, so reloading shows the same snippets. Each
answer is stored before the page answers; a visitor's too, under their session's token (players.py).
Which feature a round shows is told only after answering.
"""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from featurepedia.web.game import oddone, points
from featurepedia.web.game.models import Campaign, OddOneAnswer, OddOneRound, PlayEvent
from featurepedia.web.game.players import AnswerError, Player
from featurepedia.web.game.prefs import get_prefs
from featurepedia.web.game.snippets import marked_html

CURRENT = "game.odd.current"
SKIPPED = "game.odd.skipped"


def start(request: HttpRequest) -> HttpResponseBase:
    """Odd-one-out in the first running campaign."""
    campaign = Campaign.main()
    if campaign is None:
        return render(request, "game/no_campaign.html", status=404)
    return redirect("oddone-play", campaign=campaign.slug)


def _shown(round_: OddOneRound) -> list[dict]:
    return [{"position": i, "html": marked_html(s["tokens"], s["mark"]), "cut_left": s.get("cut_left"),
             "cut_right": s.get("cut_right")} for i, s in enumerate(round_.snippets)]


def _current(request: HttpRequest, camp: Campaign, player: Player) -> OddOneRound | None:
    current = request.session.get(CURRENT, {}).get(camp.slug)
    round_ = OddOneRound.objects.filter(pk=current).select_related("feature__source").first() if current else None
    if round_ is not None and not OddOneAnswer.objects.filter(player.answers(), feature_id=round_.feature_id).exists():
        return round_
    round_ = oddone.next_round(camp, player, set(request.session.get(SKIPPED, [])), get_prefs(request).explicit_filter)
    if round_ is not None:
        request.session[CURRENT] = {**request.session.get(CURRENT, {}), camp.slug: round_.pk}
    return round_


def play(request: HttpRequest, campaign: str) -> HttpResponse:
    """The round in progress, or a new one."""
    camp = get_object_or_404(Campaign, slug=campaign)
    player = Player.of(request, create=False)
    round_ = _current(request, camp, player)
    if round_ is None:
        return render(request, "game/oddone_none.html", {"campaign": camp})
    context = {"campaign": camp, "round": round_, "snippets": _shown(round_), "prefs": get_prefs(request),
               "base_points": points.PER_ANSWER[PlayEvent.Action.ODD_ONE],
               "bonus": points.ODD_ONE_FOUND_BONUS,
               "answered": OddOneAnswer.objects.filter(player.answers()).count() if player.user or player.visitor else 0}
    if request.user.is_authenticated:
        context["points"] = points.total(request.user)
    return render(request, "game/oddone.html", context)


@require_POST
def answer(request: HttpRequest, campaign: str, round_id: int) -> HttpResponseBase:
    """Store the pick (``pick`` = a position or "alike"), or skip the feature (``pick`` = "skip")."""
    camp = get_object_or_404(Campaign, slug=campaign)
    round_ = get_object_or_404(OddOneRound, pk=round_id)
    pick = request.POST.get("pick", "")
    request.session[CURRENT] = {k: v for k, v in request.session.get(CURRENT, {}).items() if k != camp.slug}
    if pick == "skip":
        request.session[SKIPPED] = [*request.session.get(SKIPPED, [])[-499:], round_.feature_id]
        return redirect("oddone-play", campaign=camp.slug)
    if pick != "alike" and not pick.isdigit():
        messages.error(request, "Tap the snippet that does not belong, or “They are all alike”.")
        return redirect("oddone-play", campaign=camp.slug)
    player = Player.of(request)
    try:
        oddone.answer(player, round_, None if pick == "alike" else int(pick), camp)
    except AnswerError as err:
        messages.error(request, str(err))
        return redirect("oddone-play", campaign=camp.slug)
    if player.is_visitor:
        request.session["came_from_game"] = True
    return redirect("oddone-result", campaign=camp.slug, round_id=round_.pk)


def result(request: HttpRequest, campaign: str, round_id: int) -> HttpResponseBase:
    """The round revealed to a player who answered it: the intruder, their pick, the feature's measure."""
    camp = get_object_or_404(Campaign, slug=campaign)
    round_ = get_object_or_404(OddOneRound.objects.select_related("feature__source__model"), pk=round_id)
    player = Player.of(request, create=False)
    mine = OddOneAnswer.objects.filter(player.answers(), round=round_).first()
    if mine is None:
        return redirect("oddone-play", campaign=camp.slug)
    feature = round_.feature
    src = feature.source
    context = {
        "campaign": camp, "round": round_, "snippets": _shown(round_), "mine": mine, "feature": feature, "src": src,
        "consistency": oddone.consistency(feature), "earned": points.odd_one_points(mine.found),
        "feature_url": reverse("feature", args=[src.model.slug, src.slug, feature.index]),
    }
    if request.user.is_authenticated:
        context["points"] = points.total(request.user)
    return render(request, "game/oddone_result.html", context)
