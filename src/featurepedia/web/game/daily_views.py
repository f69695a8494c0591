"""The daily puzzle's pages: /daily/ (the first running campaign's) and /daily/<campaign>/."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from featurepedia.settings import get_settings
from featurepedia.web.explanations.presenting import author_label
from featurepedia.web.game.daily import daily_for, daily_streak, number, share_text, today
from featurepedia.web.game.models import Campaign, DailyPuzzle
from featurepedia.web.game.predict import PredictError, fingerprint, load_texts, marks_from_form
from featurepedia.web.game.predict_display import text_views
from featurepedia.web.game.predict_views import player_context, result_context
from featurepedia.web.game.predictions import AlreadyPredicted, player_of, save_prediction
from featurepedia.web.game.prefs import get_prefs


def daily_start(request: HttpRequest) -> HttpResponseBase:
    campaign = Campaign.main()
    if campaign is None:
        return render(request, "game/no_campaign.html", status=404)
    return redirect("daily-campaign", campaign=campaign.slug)


def share_address(request: HttpRequest, daily: DailyPuzzle) -> str:
    """The daily's address for the shared text: on the public address when one is set."""
    path = reverse("daily-campaign", args=[daily.campaign.slug])
    public = get_settings().public_url
    return public.rstrip("/") + path if public else request.build_absolute_uri(path)


def daily_page(request: HttpRequest, campaign: str) -> HttpResponse:
    """Today's puzzle, or this player's result and the text to share."""
    camp = get_object_or_404(Campaign, slug=campaign)
    daily = daily_for(camp)
    texts = load_texts(daily.feature, daily.texts) if daily is not None else []
    context: dict[str, Any] = {"campaign": camp, "daily": daily, "day": today(), "prefs": get_prefs(request),
                               **player_context(request)}
    if daily is None or not texts:
        return render(request, "game/daily.html", context, status=404 if daily is None else 200)
    context.update(number=number(daily), explanation=daily.explanation, author=author_label(daily.explanation),
                   src=daily.feature.source)
    if request.user.is_authenticated:
        context["daily_streak"] = daily_streak(request.user)
    played = player_of(request).predictions().filter(daily=daily).first()
    if played is not None:
        context.update(result_context(request, played, daily.explanation),
                       share=share_text(daily, played, share_address(request, daily)))
    else:
        context.update(texts=text_views(texts, daily.feature.max_act), fingerprint=fingerprint(texts),
                       action=reverse("daily-answer", args=[camp.slug]))
    return render(request, "game/daily.html", context)


@require_POST
def daily_answer(request: HttpRequest, campaign: str) -> HttpResponseBase:
    """Score and store today's answer (once per player and day), then show the result to share."""
    camp = get_object_or_404(Campaign, slug=campaign)
    here = reverse("daily-campaign", args=[camp.slug])
    daily = daily_for(camp)
    if daily is None:
        return redirect(here)
    if request.POST.get("date") != daily.date.isoformat():
        messages.error(request, "A new day's puzzle started since you opened the page; here it is.")
        return redirect(here)
    texts = load_texts(daily.feature, daily.texts)
    if request.POST.get("texts") != fingerprint(texts):
        messages.error(request, "Today's texts could not be matched to your answer; please answer again.")
        return redirect(here)
    player = player_of(request, create=True)
    try:
        saved = save_prediction(daily.explanation, texts, marks_from_form(request.POST, texts), player,
                                campaign=camp, daily=daily)
    except AlreadyPredicted:
        messages.info(request, "You have played today's puzzle; come back tomorrow for the next one.")
        return redirect(here + "#result")
    except PredictError as err:
        messages.error(request, str(err))
        return redirect(here)
    if player.user is None:
        messages.success(request, "Done! Sign up to earn points and keep a daily streak.")
    else:
        messages.success(request, f"Done! +{saved.points} point{'s' if saved.points != 1 else ''}.")
    return redirect(here + "#result")
