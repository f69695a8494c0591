"""Pages of Predict-the-activations (/predict/...) and of the human-vs-machine comparison (/compare/).

The answer form is plain HTML (a checkbox per token, or a 0–10 slider per token in advanced mode), so it
works without JavaScript; predict.js only shades, counts and shows a token's value on tap.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.paginator import Paginator
from django.db.models import Exists, OuterRef
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from featurepedia.web.catalog.models import Source
from featurepedia.web.explanations.models import Explanation
from featurepedia.web.explanations.presenting import author_label
from featurepedia.web.explanations.scoring import DEFAULT_SCORER
from featurepedia.web.game import points
from featurepedia.web.game.compare import MEASURES, compare
from featurepedia.web.game.models import Campaign, Prediction
from featurepedia.web.game.predict import (
    PredictError,
    PuzzleText,
    choose_texts,
    fingerprint,
    load_texts,
    marks_from_form,
)
from featurepedia.web.game.predict_display import text_views
from featurepedia.web.game.predictions import (
    AlreadyPredicted,
    Player,
    best_predictors,
    human_score,
    next_explanation,
    player_of,
    predictable,
    save_prediction,
    skill,
)
from featurepedia.web.game.prefs import get_prefs

CURRENT_KEY = "game.predict_current"  # campaign slug -> explanation id in progress
SKIPPED_KEY = "game.predict_skipped"
MAX_SKIPPED = 200
MAX_TRIES = 5  # explanations looked at for one with texts this player may see
COMPARE_PAGE = 50


def _running_campaign() -> Campaign | None:
    return Campaign.main()


def predict_start(request: HttpRequest) -> HttpResponseBase:
    """Start predicting in the first running campaign."""
    campaign = _running_campaign()
    if campaign is None:
        return render(request, "game/no_campaign.html", status=404)
    return redirect("predict-campaign", campaign=campaign.slug)


def predict_campaign(request: HttpRequest, campaign: str) -> HttpResponseBase:
    """The puzzle in progress, or the next explanation this player has not predicted."""
    camp = get_object_or_404(Campaign, slug=campaign)
    player = player_of(request)
    current = request.session.get(CURRENT_KEY, {}).get(camp.slug)
    if current is not None and not player.predictions().filter(explanation_id=current, daily__isnull=True).exists():
        still = predictable(camp).filter(pk=current).select_related("feature__source").first()
        if still is not None and _usable_texts(request, still):
            return redirect("predict-puzzle", campaign=camp.slug, explanation_id=current)
    tried = list(request.session.get(SKIPPED_KEY, []))
    for _ in range(MAX_TRIES):
        explanation = next_explanation(camp, player, exclude=tried)
        if explanation is None or _usable_texts(request, explanation):
            break
        tried.append(explanation.pk)  # e.g. every quiet text has explicit words and the player hides them
    else:
        explanation = None
    if explanation is None:
        return render(request, "game/predict.html", {"campaign": camp, "done": True, "prefs": get_prefs(request)})
    request.session[CURRENT_KEY] = {**request.session.get(CURRENT_KEY, {}), camp.slug: explanation.pk}
    return redirect("predict-puzzle", campaign=camp.slug, explanation_id=explanation.pk)


def _explanation(camp: Campaign, explanation_id: int) -> Explanation:
    found = (predictable(camp).filter(pk=explanation_id).select_related("feature__source__model", "author__profile")
             .first())
    if found is None:
        raise Http404("this explanation is not one of the campaign's, or its feature cannot be predicted")
    return found


def _usable_texts(request: HttpRequest, explanation: Explanation) -> list[PuzzleText]:
    # One set of texts per explanation (its id is the seed), so every player's guesses are comparable.
    return choose_texts(explanation.feature, seed=explanation.pk, hide_explicit=get_prefs(request).explicit_filter)


def _texts(request: HttpRequest, explanation: Explanation) -> list[PuzzleText]:
    texts = _usable_texts(request, explanation)
    if not texts:
        raise Http404("this feature has no held-out texts to predict (it needs activating and quiet examples)")
    return texts


def result_context(request: HttpRequest, prediction: Prediction, explanation: Explanation) -> dict[str, Any]:
    """What a page shows once a player has answered: the truth beside their marks, the score, the feature."""
    feature = explanation.feature
    texts = load_texts(feature, prediction.texts)
    views = text_views(texts, feature.max_act, prediction.marks) if texts else []
    src = feature.source
    return {"prediction": prediction, "result_texts": views, "human": human_score(explanation),
            "automatic": next((s.value for s in explanation.scores.all()
                               if s.scorer == DEFAULT_SCORER and s.status == "ok"), None),
            "feature_url": reverse("feature", args=[src.model.slug, src.slug, feature.index])}


def player_context(request: HttpRequest) -> dict[str, Any]:
    if not request.user.is_authenticated:
        return {}
    return {"points": points.total(request.user), "skill": skill(request.user)}


def predict_puzzle(request: HttpRequest, campaign: str, explanation_id: int) -> HttpResponse:
    """One puzzle: an explanation and texts to mark; once answered, the result."""
    camp = get_object_or_404(Campaign, slug=campaign)
    explanation = _explanation(camp, explanation_id)
    player = player_of(request)
    context: dict[str, Any] = {"campaign": camp, "explanation": explanation, "feature": explanation.feature,
                               "src": explanation.feature.source, "prefs": get_prefs(request),
                               "author": author_label(explanation), **player_context(request)}
    answered = player.predictions().filter(explanation=explanation, daily__isnull=True).first()
    if answered is not None:
        context.update(result_context(request, answered, explanation))
    else:
        texts = _texts(request, explanation)
        context.update(texts=text_views(texts, explanation.feature.max_act), fingerprint=fingerprint(texts),
                       action=reverse("predict-answer", args=[camp.slug, explanation.pk]),
                       skip=reverse("predict-skip", args=[camp.slug, explanation.pk]))
    return render(request, "game/predict.html", context)


@require_POST
def predict_answer(request: HttpRequest, campaign: str, explanation_id: int) -> HttpResponseBase:
    """Score and store the player's marks (committed before the answer), then show the result."""
    camp = get_object_or_404(Campaign, slug=campaign)
    explanation = _explanation(camp, explanation_id)
    here = reverse("predict-puzzle", args=[camp.slug, explanation.pk])
    texts = _texts(request, explanation)
    if request.POST.get("texts") != fingerprint(texts):
        messages.error(request, "The texts of this puzzle changed since you opened it; here they are again.")
        return redirect(here)
    player = player_of(request, create=True)
    try:
        saved = save_prediction(explanation, texts, marks_from_form(request.POST, texts), player, campaign=camp)
    except AlreadyPredicted as err:
        messages.info(request, str(err).capitalize() + ".")
        return redirect(here + "#result")
    except PredictError as err:
        messages.error(request, str(err))
        return redirect(here)
    _forget_current(request, camp)
    messages.success(request, _saved_message(player, saved.prediction.score, saved.points))
    return redirect(here + "#result")


def _saved_message(player: Player, score: float, earned: int) -> str:
    text = f"Your guess scored {score:.2f}."
    if player.user is None:
        return text + " Sign up to keep it, earn points and count towards the explanation's human score."
    return text + (f" +{earned} point{'s' if earned != 1 else ''}." if earned else "")


def _forget_current(request: HttpRequest, camp: Campaign) -> None:
    current = request.session.get(CURRENT_KEY, {})
    current.pop(camp.slug, None)
    request.session[CURRENT_KEY] = current


@require_POST
def predict_skip(request: HttpRequest, campaign: str, explanation_id: int) -> HttpResponseBase:
    """Skip this explanation (no points) and go to another."""
    camp = get_object_or_404(Campaign, slug=campaign)
    request.session[SKIPPED_KEY] = [*request.session.get(SKIPPED_KEY, [])[-(MAX_SKIPPED - 1):], explanation_id]
    _forget_current(request, camp)
    return redirect("predict-campaign", campaign=camp.slug)


def compare_page(request: HttpRequest) -> HttpResponse:
    """Human-written against automatic explanations: per feature (paged) and overall, for a source or all."""
    explained = Explanation.objects.filter(feature__source=OuterRef("pk"))
    sources = list(Source.objects.filter(Exists(explained)).select_related("model"))
    chosen = request.GET.get("source", "")
    source = next((s for s in sources if f"{s.model.slug}/{s.slug}" == chosen), None)
    result = compare(source)
    page = Paginator(result.rows, COMPARE_PAGE).get_page(request.GET.get("page"))
    return render(request, "game/compare.html", {
        "result": result, "page": page, "sources": sources, "source": source, "chosen": chosen if source else "",
        "measures": MEASURES, "predictors": best_predictors(10), "prefs": get_prefs(request)})
