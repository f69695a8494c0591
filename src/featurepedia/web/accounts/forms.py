"""The player's settings form."""

from __future__ import annotations

import re

from django import forms

from featurepedia.web.game.models import Profile


class ProfileForm(forms.ModelForm):
    # Wider than the stored two letters so "Britain" gets a helpful message rather than a length error.
    country = forms.CharField(max_length=60, required=False, label="Country",
                              help_text="Two letters, e.g. GB, US, DE, IN. Leave empty to stay off country boards.")

    class Meta:
        model = Profile
        fields = ["display_name", "country", "region", "explicit_filter", "advanced_mode", "blind_mode"]
        labels = {"display_name": "Name on leaderboards", "explicit_filter": "Hide clues with explicit words",
                  "advanced_mode": "Advanced mode (authors, methods, all scores, filters)",
                  "blind_mode": "Blind mode (hide others' explanations until I answer)"}
        help_texts = {"country": "Two letters, e.g. GB, US, DE, IN. Leave empty to stay off country boards."}

    def clean_country(self) -> str:
        country = self.cleaned_data["country"].strip().upper()
        if country and not re.fullmatch(r"[A-Z]{2}", country):
            raise forms.ValidationError(f"“{country}” is not a two-letter country code; use e.g. GB or US.")
        return country


class VisitorSettingsForm(forms.Form):
    """What a visitor without an account can set (kept in their session)."""

    explicit_filter = forms.BooleanField(required=False, label="Hide clues with explicit words")
    advanced_mode = forms.BooleanField(required=False, label="Advanced mode (authors, methods, all scores, filters)")
    blind_mode = forms.BooleanField(required=False, label="Blind mode (hide others' explanations until I answer)")
