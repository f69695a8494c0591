"""A score in words: what an automatic score of an explanation means to a reader."""

from __future__ import annotations

from django import template

register = template.Library()


@register.filter
def score_meaning(value: float | None, noun: str = "feature") -> str:
    """``0.82`` -> "ranks a random place where this feature fires above a random place where it does not
    82% of the time (50% is chance)": the default scorers' score is that probability (an AUROC)."""
    if value is None:
        return "not scored yet"
    noun = noun or "feature"
    return (f"ranks a random place where this {noun} fires above a random place where it does not "
            f"{round(100 * float(value))}% of the time (50% is chance)")
