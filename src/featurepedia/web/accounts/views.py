"""The profile page (my explanations, drafts, votes, points, rank, API keys) and the settings page."""

from __future__ import annotations

from dataclasses import asdict

from django.contrib import messages
from django.contrib.auth.base_user import AbstractBaseUser
from django.contrib.auth.decorators import login_required
from django.db.models import Count, Max, Q
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from featurepedia.errors import UsageError
from featurepedia.web.accounts import keys
from featurepedia.web.accounts.forms import ProfileForm, VisitorSettingsForm
from featurepedia.web.accounts.models import ApiKey
from featurepedia.web.explanations.limits import explanations_allowance, votes_allowance
from featurepedia.web.explanations.models import Explanation, Vote
from featurepedia.web.game import leaderboard, points
from featurepedia.web.game.prefs import get_prefs, profile_for, set_prefs


@login_required
def profile(request: HttpRequest) -> HttpResponse:
    return render(request, "accounts/profile.html", _profile_context(request.user))


def _profile_context(user: AbstractBaseUser, **extra: object) -> dict[str, object]:
    mine = (Explanation.objects.filter(author=user).select_related("feature__source__model")
            .annotate(ups=Count("votes", filter=Q(votes__value=1), distinct=True),
                      downs=Count("votes", filter=Q(votes__value=-1), distinct=True),
                      score=Max("scores__value")).order_by("-created"))
    votes = (Vote.objects.filter(user=user).select_related("explanation__feature__source__model")
             .order_by("-updated")[:200])
    rank, total = leaderboard.rank_of(user)
    return {
        "profile": profile_for(user), "explanations": [e for e in mine if e.status != "draft"],
        "drafts": [e for e in mine if e.status == "draft"], "votes": votes, "rank": rank,
        "points": points.total(user), "week_rank": leaderboard.rank_of(user, "week")[0],
        "streak": points.streak(user), "allowance": explanations_allowance(user), "vote_allowance": votes_allowance(user),
        "api_keys": ApiKey.objects.filter(user=user), **extra,
    }


@login_required
@require_POST
def create_api_key(request: HttpRequest) -> HttpResponse:
    """Make an API key and show it on the profile page, once: only its hash is kept."""
    try:
        row, key = keys.create_key(request.user, request.POST.get("name", ""))
    except UsageError as err:
        messages.error(request, err.message)
        return render(request, "accounts/profile.html", _profile_context(request.user), status=400)
    # Rendered, not redirected: the key is never written to the session or a message store.
    return render(request, "accounts/profile.html", _profile_context(request.user, new_key=key, new_key_row=row))


@login_required
@require_POST
def revoke_api_key(request: HttpRequest, pk: int) -> HttpResponseBase:
    row = keys.revoke_key(request.user, pk)
    if row is None:
        messages.error(request, "You have no such API key; it may have been deleted with its account.")
    else:
        messages.success(request, f"API key “{row.name}” ({row.prefix}…) is revoked; requests with it are now "
                         "treated as anonymous.")
    return redirect("profile")


def settings_page(request: HttpRequest) -> HttpResponseBase:
    """Signed in: the full profile form. A visitor: the display preferences, kept in the session."""
    if request.user.is_authenticated:
        form: ProfileForm | VisitorSettingsForm = ProfileForm(request.POST or None, instance=profile_for(request.user))
    else:
        form = VisitorSettingsForm(request.POST or None, initial=asdict(get_prefs(request)))
    if request.method == "POST" and form.is_valid():
        if isinstance(form, ProfileForm):
            form.save()
        else:
            set_prefs(request, **form.cleaned_data)
        messages.success(request, "Settings saved.")
        return redirect("settings")
    return render(request, "accounts/settings.html", {"form": form}, status=400 if form.errors else 200)
