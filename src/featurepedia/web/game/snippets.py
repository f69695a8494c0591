"""Short clues for the phone-sized modes: a few tokens each side of where a context fires.

A stored context is 64 tokens, four or five lines on a phone; cut to a window around its strongest token it
is one or two, so the first screen holds the clues and the answers. Contexts are rendered by the catalog's
own renderer (highlight, hover and tap values), only shorter.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

from featurepedia.web.catalog import pagecache
from featurepedia.web.catalog.display import render_example
from featurepedia.web.catalog.models import ActivationExample, Feature
from featurepedia.web.game.clues import TOP_CLUES
from featurepedia.web.game.explicit import tokens_explicit

RADIUS = 8  # tokens shown each side of the strongest one


@dataclass
class Snippet:
    html: SafeString
    cut_left: bool  # text goes on before (shown as "…")
    cut_right: bool


def bounds(n_tokens: int, centre: int, radius: int, start: int) -> tuple[int, int]:
    """[lo, hi) of the window around ``centre``, never before ``start`` (1 skips the BOS token)."""
    lo = max(start, centre - radius)
    hi = min(n_tokens, max(centre + radius + 1, lo + 1))
    return lo, hi


def cut(e: ActivationExample, centre: int, radius: int = RADIUS, start: int = 0) -> tuple[ActivationExample, int, int]:
    """An unsaved copy of ``e`` holding only the window, with its notes and special positions re-indexed."""
    lo, hi = bounds(len(e.tokens), centre, radius, start)
    part = ActivationExample(tokens=e.tokens[lo:hi], values=e.values[lo:hi], max_value=e.max_value,
                             notes={str(int(k) - lo): v for k, v in e.notes.items() if lo <= int(k) < hi},
                             special=[i - lo for i in e.special if lo <= i < hi], max_index=max(0, centre - lo))
    return part, lo, hi


def short_clues(feature: Feature, hide_explicit: bool, n: int = TOP_CLUES, radius: int = RADIUS) -> list[Snippet]:
    """The feature's top clues (as the puzzle picks them), each cut around its strongest token (cached until
    the source is rebuilt, per filter setting)."""
    return pagecache.cached("short-clues", (feature.pk, feature.source.updated.isoformat(), hide_explicit, n, radius),
                            lambda: _short_clues(feature, hide_explicit, n, radius))


def _short_clues(feature: Feature, hide_explicit: bool, n: int, radius: int) -> list[Snippet]:
    shown = []
    start = feature.source.first_shown
    for e in feature.examples.filter(bin="top").order_by("rank")[: n * 2]:
        part, lo, hi = cut(e, e.max_index, radius, start)
        if hide_explicit and tokens_explicit(part.tokens):
            continue
        shown.append(Snippet(render_example(part, feature.max_act), lo > start, hi < len(e.tokens)))
        if len(shown) == n:
            break
    return shown


def _visible(text: str) -> str:
    return text.replace("\n", "↵").replace("\t", "→")


def marked_html(tokens: Sequence[str], mark: int) -> SafeString:
    """Plain text with one token marked: Odd-one-out shows where a text fires, not how strongly."""
    return format_html_join("", "{}", ((format_html("<mark>{}</mark>", _visible(t)) if i == mark else _visible(t),)
                                       for i, t in enumerate(tokens)))
