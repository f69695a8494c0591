"""This-vs-That's pages: a pair of explanations with the feature's clues, and the answer (versus.py).

Each answer is stored before the page answers (a redirect to the next pair, carrying what others chose);
a visitor's too, under their session's token (players.py). Skipping stores nothing and earns nothing: the
pair is only left out for the rest of the session.
"""

from __future__ import annotations

import random

from django.contrib import messages
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from featurepedia.web.explanations.presenting import author_label
from featurepedia.web.game import points, versus
from featurepedia.web.game.models import Campaign, Comparison, PlayEvent
from featurepedia.web.game.players import AnswerError, Player
from featurepedia.web.game.prefs import get_prefs
from featurepedia.web.game.snippets import short_clues

SKIPPED = "game.versus.skipped"
SHOWN_CLUES = 4  # on the first screen; the rest behind "more clues"
STACK_ABOVE = 60  # characters: a longer explanation reads better across a phone's whole width


def _skipped(request: HttpRequest) -> set[tuple[int, int]]:
    return {(int(a), int(b)) for a, b in request.session.get(SKIPPED, [])}


def start(request: HttpRequest) -> HttpResponseBase:
    """This-vs-That in the first running campaign."""
    campaign = Campaign.main()
    if campaign is None:
        return render(request, "game/no_campaign.html", status=404)
    return redirect("versus-play", campaign=campaign.slug)


def play(request: HttpRequest, campaign: str) -> HttpResponse:
    """The most informative pair of the campaign for this player, sides at random."""
    camp = get_object_or_404(Campaign, slug=campaign)
    player = Player.of(request, create=False)
    found = versus.next_pair(camp, player, _skipped(request))
    prefs = get_prefs(request)
    if found is None:
        return render(request, "game/versus_none.html", {"campaign": camp})
    feature, first, second = found
    left, right = (first, second) if random.random() < 0.5 else (second, first)
    clues = short_clues(feature, prefs.explicit_filter)
    context = {
        "campaign": camp, "feature": feature, "src": feature.source, "prefs": prefs,
        "clues": clues[:SHOWN_CLUES], "more_clues": clues[SHOWN_CLUES:],
        "sides": [("A", left, author_label(left)), ("B", right, author_label(right))],
        "stacked": max(len(left.text), len(right.text)) > STACK_ABOVE,
        "answered": Comparison.objects.filter(player.answers()).count() if player.user or player.visitor else 0,
        "per_answer": points.PER_ANSWER[PlayEvent.Action.VERSUS],
        "feature_url": reverse("feature", args=[feature.source.model.slug, feature.source.slug, feature.index]),
    }
    if request.user.is_authenticated:
        context["points"] = points.total(request.user)
    return render(request, "game/versus.html", context)


def _int(value: str | None) -> int | None:
    try:
        return int(value or "")
    except ValueError:
        return None


@require_POST
def answer(request: HttpRequest, campaign: str) -> HttpResponseBase:
    """Store the choice (``better`` = an explanation id or "both-bad"), or skip (``better`` = "skip")."""
    camp = get_object_or_404(Campaign, slug=campaign)
    a, b, better = _int(request.POST.get("a")), _int(request.POST.get("b")), request.POST.get("better", "")
    if a is None or b is None:
        messages.error(request, "That answer named no pair of explanations; choose from the pair shown.")
        return redirect("versus-play", campaign=camp.slug)
    if better == "skip":
        pair = sorted((a, b))
        request.session[SKIPPED] = [*request.session.get(SKIPPED, [])[-199:], pair]
        return redirect("versus-play", campaign=camp.slug)
    chosen = None if better == "both-bad" else _int(better)
    if chosen is None and better != "both-bad":
        messages.error(request, "Choose A, B or “both bad” (or skip).")
        return redirect("versus-play", campaign=camp.slug)
    player = Player.of(request)
    try:
        recorded = versus.record(player, a, b, chosen, camp)
    except AnswerError as err:
        messages.error(request, str(err))
        return redirect("versus-play", campaign=camp.slug)
    if player.is_visitor:
        request.session["came_from_game"] = True
    messages.success(request, versus.outcome_message(recorded, player))
    return redirect("versus-play", campaign=camp.slug)
