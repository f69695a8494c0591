"""HTML pieces of the live pages: clickable highlighted tokens, attribution colours.

Token text comes from the visitor; it is escaped by format_html like corpus text (nothing is marked safe
as it is). Whitespace is made visible the way the clues show it, and shading is a class as on the clues
(``catalog.display.shade``), never an inline style.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

from featurepedia.lm.tokens import TokenText
from featurepedia.web.catalog.display import shade
from featurepedia.web.text_rules import visible_token


def visible(text: str) -> str:
    """The token as the clues show it (see :func:`featurepedia.web.text_rules.visible_token`)."""
    return visible_token(text)


def first_shown(tokens: Sequence[TokenText]) -> int:
    """1 when the text starts with the BOS token (shown nowhere, as on the clues), else 0."""
    return 1 if len(tokens) > 1 and tokens[0].special else 0


def _title(token: TokenText, value: float, what: str = "") -> str:
    return f"{token.text!r}  {what}{value:.4g}" + (f" — {token.note}" if token.note else "")


def _class(token: TokenText, base: str, level: str = "") -> str:
    cls = f"{base} {level}" if level else base
    return f"{cls} special" if token.special else f"{cls} partial" if token.note else cls


def token_buttons(tokens: Sequence[TokenText], values: Sequence[float], scale: float) -> SafeString:
    """Tokens as buttons named ``target`` (value: the position), shaded by value / scale like the clues,
    so that clicking one submits the form around them with that position."""
    parts = []
    for i in range(first_shown(tokens), len(tokens)):
        token, value = tokens[i], values[i]
        parts.append((_class(token, "tok", shade(value, scale)), i, _title(token, value), visible(token.text)))
    return format_html_join("", '<button type="submit" class="{}" name="target" value="{}" '
                                'title="{}">{}</button>', parts)


def attribution_spans(tokens: Sequence[TokenText], attributions: Sequence[float], target: int) -> SafeString:
    """Tokens coloured by attribution: blue raises the activation at the target, red lowers it, relative
    to the largest magnitude; the target is outlined and later tokens (which cannot matter) are greyed."""
    scale = max((abs(a) for a in attributions), default=0.0)
    parts = []
    for i in range(first_shown(tokens), len(tokens)):
        token, value = tokens[i], attributions[i]
        sign = "pos" if value > 0 else "neg" if value < 0 else "zero"
        where = " target" if i == target else " after" if i > target else ""
        title = "the clicked token" if i == target else "after the clicked token: no effect" if i > target \
            else _title(token, value, "contributes ")
        parts.append((_class(token, f"tok attr {sign}{where}", shade(abs(value), scale)), title, visible(token.text)))
    return format_html_join("", '<span class="{}" title="{}">{}</span>', parts)


@dataclass(frozen=True)
class Contribution:
    position: int
    token: str
    value: float


def top_contributions(tokens: Sequence[TokenText], attributions: Sequence[float], n: int = 5) -> list[Contribution]:
    """The ``n`` tokens that move the activation most, by magnitude (a readable list beside the colours)."""
    order = sorted((i for i in range(first_shown(tokens), len(tokens)) if attributions[i] != 0),
                   key=lambda i: -abs(attributions[i]))
    return [Contribution(i, visible(tokens[i].text), attributions[i]) for i in order[:n]]


def plain_tokens(tokens: Sequence[TokenText], values: Sequence[float], scale: float,
                 peak: int | None = None) -> SafeString:
    """Tokens as shaded spans (not clickable), the ``peak`` position marked."""
    parts = []
    for i in range(first_shown(tokens), len(tokens)):
        token, value = tokens[i], values[i]
        cls = _class(token, "tok peak" if i == peak else "tok", shade(value, scale))
        parts.append((cls, _title(token, value), visible(token.text)))
    return format_html_join("", '<span class="{}" title="{}">{}</span>', parts)


def token_label(token: TokenText) -> SafeString:
    return format_html("<code>{}</code>", visible(token.text))
