"""Contest pages: the list of side quests, and each one's board while it runs and results once it ends."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.utils import timezone

from featurepedia.web.game import contests as quests
from featurepedia.web.game.models import Campaign


def contest_list(request: HttpRequest) -> HttpResponse:
    """Running contests first (with time left), then upcoming ones, then the ended ones with their winners."""
    now = timezone.now()
    rows = list(quests.contests().filter(active=True).order_by("-starts", "slug"))
    running = [(c, quests.in_words(quests.time_left(c, now))) for c in rows if c.phase(now) == "running"]
    upcoming = sorted((c for c in rows if c.phase(now) == "upcoming"), key=lambda c: c.starts or now)
    ended = [(c, quests.standings(c, limit=3)) for c in rows if c.phase(now) == "ended"][:20]
    return render(request, "game/contests.html", {"running": running, "upcoming": upcoming, "ended": ended})


def contest_page(request: HttpRequest, slug: str) -> HttpResponse:
    """While it runs: the board, time left and where to play; once it ends: its results."""
    contest = get_object_or_404(quests.contests(), slug=slug)
    now = timezone.now()
    mine = quests.rank_in(contest, request.user) if request.user.is_authenticated else (None, 0)
    return render(request, "game/contest.html", {
        "contest": contest, "phase": contest.phase(now), "time_left": quests.in_words(quests.time_left(contest, now)),
        "results": quests.results(contest), "my_rank": mine[0], "my_points": mine[1]})


def how_scoring(request: HttpRequest) -> HttpResponse:
    """What each answer earns in each mode, from the numbers the game uses (game/points.py, predict.py)."""
    from featurepedia.web.game import points
    from featurepedia.web.game.models import PlayEvent
    from featurepedia.web.game.predict import MAX_SCORE_POINTS

    p, per = points.POINTS, points.PER_ANSWER
    rows = [
        ("Vote", "a vote for an explanation", f"{p[PlayEvent.Action.VOTE]}, once per explanation"),
        ("Vote", "writing an explanation", f"{p[PlayEvent.Action.EXPLAIN]}, plus {p[PlayEvent.Action.BEST]} when "
                                           "it beats the feature's best automatic score"),
        ("Vote", "a flag (polysemantic mess, none of these fit)",
         f"{p[PlayEvent.Action.POLYSEMANTIC]}, once per feature"),
        ("Predict", "a prediction", f"{p[PlayEvent.Action.PREDICT]} plus up to {MAX_SCORE_POINTS} for how well it "
                                    "matches the real activations, once per explanation"),
        ("Daily", "the day's puzzle", f"{p[PlayEvent.Action.DAILY]} plus up to {MAX_SCORE_POINTS} for its score"),
        ("This vs That", "a choice, “both bad” included", f"{per[PlayEvent.Action.VERSUS]} per pair"),
        ("Odd one out", "an answer, “they are all alike” included",
         f"{per[PlayEvent.Action.ODD_ONE]} per feature, plus {points.ODD_ONE_FOUND_BONUS} when you found the odd one"),
        ("Any", "skipping", "0"),
    ]
    return render(request, "game/how_scoring.html", {"rows": rows})


def closed(request: HttpRequest, campaign: Campaign) -> HttpResponse:
    """The page for a campaign that is not open now: when it opens, or that it ended (with its results)."""
    return render(request, "game/campaign_closed.html", {"campaign": campaign, "phase": campaign.phase()})
