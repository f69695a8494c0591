"""Token-list explainer: an offline baseline that lists the tokens a feature fires on most.

It writes what a person skimming the clues would: the most frequent strongly-active tokens, a word for
their shape when they share one (numbers, capitalised words, punctuation), and the preceding word when
most activations follow the same one, e.g. ``"Paris", "London", "Rome" (often after "in")``.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence
from typing import Any

from featurepedia.interp.records import ActivationRecord

_SPECIAL = ("<|", "<s>", "</s>")


class TokenListExplainer:
    """Explains a feature by its top tokens and their usual left context."""

    name = "token-list"
    version = "1"

    def __init__(self, n_tokens: int = 4, active_frac: float = 0.5, context_share: float = 0.5):
        """Args:
            n_tokens: at most this many tokens are listed.
            active_frac: a token counts when its value >= this fraction of its record's max.
            context_share: mention the previous word when at least this share of active tokens follow it.
        """
        self.n_tokens, self.active_frac, self.context_share = n_tokens, active_frac, context_share
        self.last_details: dict[str, Any] = {"explainer": self.name, "version": self.version}

    @property
    def method(self) -> str:
        return self.name

    def explain(self, records: Sequence[ActivationRecord]) -> str:
        """A short explanation from the activating records ("" parts are skipped; never empty)."""
        weights: defaultdict[str, float] = defaultdict(float)
        surface: dict[str, Counter[str]] = defaultdict(Counter)
        previous: Counter[str] = Counter()
        n_active = 0
        for record in records:
            peak = record.max_value
            if peak <= 0:
                continue
            for i, (tok, value) in enumerate(zip(record.tokens, record.values, strict=True)):
                key = tok.strip()
                if value < self.active_frac * peak or not key or key.startswith(_SPECIAL):
                    continue
                weights[key.lower()] += value / peak
                surface[key.lower()][key] += 1
                n_active += 1
                prev = record.tokens[i - 1].strip().lower() if i > 0 else ""
                if prev and prev.isalpha():
                    previous[prev] += 1
        if not weights:
            return "no clear pattern (the feature rarely fires)"
        top = [surface[k].most_common(1)[0][0] for k in sorted(weights, key=lambda k: -weights[k])[: self.n_tokens]]
        text = ", ".join(f'"{t}"' for t in top)
        shape = _shape(list(surface))
        if shape:
            text = f"{shape} such as {text}"
        share = sum(weights[k.lower()] for k in top) / sum(weights.values())
        if share < 0.3 and len(weights) > 3 * self.n_tokens:
            text += " and many other tokens"
        if previous:
            word, count = previous.most_common(1)[0]
            if count >= self.context_share * n_active and count >= 2:
                text += f' (often after "{word}")'
        return text


def _shape(tokens: list[str]) -> str:
    """A word for what most active tokens look like, or ""."""
    n = len(tokens)
    checks = (
        ("numbers", lambda t: t.isdigit()),
        ("punctuation", lambda t: all(not c.isalnum() for c in t)),
        ("capitalised words", lambda t: t[:1].isupper() and t[1:].islower()),
    )
    for label, check in checks:
        if sum(1 for t in tokens if check(t)) >= 0.8 * n and n >= 2:
            return label
    return ""
