"""The player's settings form."""

from __future__ import annotations

from typing import Any

from django import forms
from django_countries import countries

from featurepedia.web import text_rules
from featurepedia.web.game.models import Profile


class CountryField(forms.ChoiceField):
    """An ISO 3166 country, picked from the list (codes typed by hand are accepted in any case)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(choices=[("", "None (stay off country boards)"), *countries], **kwargs)
        self.error_messages["invalid_choice"] = ("“%(value)s” is not a two-letter country code; pick your "
                                                 "country from the list.")

    def to_python(self, value: object) -> str:
        return super().to_python(value).strip().upper()


class ProfileForm(forms.ModelForm):
    country = CountryField(required=False, label="Country",
                           help_text="Puts you on your country's leaderboard. Leave empty to stay off it.")

    class Meta:
        model = Profile
        fields = ["display_name", "country", "region", "explicit_filter", "advanced_mode", "blind_mode"]
        labels = {"display_name": "Name on leaderboards", "explicit_filter": "Hide clues with explicit words",
                  "advanced_mode": "Advanced mode (authors, methods, all scores, filters)",
                  "blind_mode": "Blind mode (hide others' explanations until I answer)"}

    def clean_display_name(self) -> str:
        """Refused with the character named when it holds a control, direction or invisible character."""
        name = " ".join((self.cleaned_data.get("display_name") or "").split())
        reason = text_rules.problem(name, name=True)
        if reason:
            raise forms.ValidationError(f"That name cannot be used: {reason}.")
        return name


class VisitorSettingsForm(forms.Form):
    """What a visitor without an account can set (kept in their session)."""

    explicit_filter = forms.BooleanField(required=False, label="Hide clues with explicit words")
    advanced_mode = forms.BooleanField(required=False, label="Advanced mode (authors, methods, all scores, filters)")
    blind_mode = forms.BooleanField(required=False, label="Blind mode (hide others' explanations until I answer)")
