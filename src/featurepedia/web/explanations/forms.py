"""Forms for writing explanations and reporting them; errors say what was wrong and how to fix it."""

from __future__ import annotations

from django import forms

from featurepedia.interp import MAX_EXPLANATION_CHARS
from featurepedia.web import text_rules
from featurepedia.web.explanations.services import MIN_EXPLANATION_CHARS


class ExplanationForm(forms.Form):
    text = forms.CharField(
        label="Your explanation", min_length=MIN_EXPLANATION_CHARS, max_length=MAX_EXPLANATION_CHARS,
        validators=[text_rules.django_validator("an explanation")],
        widget=forms.Textarea(attrs={"rows": 2, "maxlength": MAX_EXPLANATION_CHARS,
                                     "placeholder": "e.g. the word “cat” and other pets"}),
        error_messages={
            "required": "Write a few words about what the highlighted tokens have in common.",
            "min_length": f"An explanation needs at least {MIN_EXPLANATION_CHARS} characters.",
            "max_length": f"Keep it under {MAX_EXPLANATION_CHARS} characters: its main idea is enough.",
        })


class ReportForm(forms.Form):
    note = forms.CharField(label="What is wrong with it? (optional)", max_length=500, required=False,
                           validators=[text_rules.django_validator("a report's note")])
