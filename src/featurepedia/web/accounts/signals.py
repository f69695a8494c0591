"""On sign-up and sign-in: create the profile, carry over a visitor's choices and credit their answers."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib.auth.signals import user_logged_in
from django.db.models.signals import post_save
from django.dispatch import receiver

from featurepedia.web.game import pending
from featurepedia.web.game.models import Profile
from featurepedia.web.game.prefs import adopt_visitor_prefs


@receiver(post_save, sender=settings.AUTH_USER_MODEL)
def create_profile(sender: Any, instance: Any, created: bool, **kwargs: Any) -> None:
    if created:
        Profile.objects.get_or_create(user=instance)


@receiver(user_logged_in)
def credit_visitor(sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
    # Django keeps the session's data across login (it only changes the key), so the visitor's answers are
    # still here. Requests built by tests or scripts may have no session.
    if request is None or not hasattr(request, "session"):
        return
    adopt_visitor_prefs(request, user)
    pending.credit(request, user)
