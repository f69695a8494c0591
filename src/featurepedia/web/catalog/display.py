"""HTML pieces for feature pages: highlighted token contexts and the activation histogram (inline SVG).

All corpus text is escaped (``html.escape`` for the token spans, format_html elsewhere); nothing from the
corpus is ever marked safe as it is.

A token's shading is a class, never an inline style (the content security policy forbids those): ``a1`` to
``a20`` set the background's strength to n/20 (site.css); below 1/40 a token has no class at all. The exact
value is the token's title. A feature page holds thousands of tokens, so the markup is kept short.
"""

from __future__ import annotations

import html
from collections.abc import Collection, Sequence
from dataclasses import dataclass

from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString, mark_safe

from featurepedia.web.catalog.models import ActivationExample
from featurepedia.web.text_rules import visible_token

BIN_TITLES = {"top": "Top activations", "negative": "Not activating (random)"}


@dataclass
class Group:
    key: str
    title: str
    count: int
    examples: list[SafeString] | None  # None: not rendered (the page loads it when opened)


def _visible(text: str) -> str:
    """The token as the clues show it (see :func:`featurepedia.web.text_rules.visible_token`)."""
    return visible_token(text)


LEVELS = 20  # shading steps; site.css defines .a1 .. .a20


def shade(value: float, scale: float) -> str:
    """The shading class of ``value`` relative to ``scale`` ("a1" .. "a20"), or "" for no shading."""
    level = round(max(0.0, min(1.0, value / scale)) * LEVELS) if scale > 0 else 0
    return f"a{level}" if level else ""


def render_tokens(tokens: Sequence[str], values: Sequence[float], notes: dict, scale: float,
                  special: Collection[int] = ()) -> SafeString:
    """One context as spans, shaded by value / scale; the title (hover, tap) is the exact value.

    Args:
        notes: hover notes by position (as a string); special: positions of special tokens.
    """
    spans = []
    for i, (tok, val) in enumerate(zip(tokens, values, strict=False)):
        note = notes.get(str(i), "")
        title = f"{val:.4g} — {note}" if note else f"{val:.4g}"
        cls = " ".join(c for c in (shade(val, scale), "special" if i in special else "partial" if note else "") if c)
        attr = f' class="{cls}"' if cls else ""
        spans.append(f'<span{attr} title="{html.escape(title)}">{html.escape(_visible(tok))}</span>')
    return mark_safe("".join(spans))


def render_example(e: ActivationExample, scale: float, start: int = 0) -> SafeString:
    """An example from token ``start`` on (1 skips the BOS token), notes and special positions re-indexed."""
    notes = {str(int(k) - start): v for k, v in e.notes.items() if int(k) >= start}
    special = {i - start for i in e.special if i >= start}
    return render_tokens(e.tokens[start:], e.values[start:], notes, scale, special)


def example_groups(examples: Sequence[ActivationExample], max_act: float, start: int = 0,
                   lazy: bool = False) -> list[Group]:
    """Examples grouped for display: top first, then quantile groups from high to low, then negatives.

    Args:
        lazy: render only the first group's examples; the others carry their title and count.
    """
    by_bin: dict[str, list[ActivationExample]] = {}
    for e in examples:
        by_bin.setdefault(e.bin, []).append(e)
    quantiles = sorted((b for b in by_bin if b.startswith("q")), key=lambda b: -int(b[1:]))
    order = [b for b in ["top", *quantiles, "negative"] if b in by_bin]
    groups: list[Group] = []
    n_q = len(quantiles)
    for key in order:
        items = sorted(by_bin[key], key=lambda e: e.rank)
        if key in BIN_TITLES:
            title = BIN_TITLES[key]
        else:
            lo = min(e.max_value for e in items)
            hi = max(e.max_value for e in items)
            title = f"Quantile group {int(key[1:]) + 1} of {n_q} (max {lo:.3g}–{hi:.3g})"
        shown = not (lazy and groups)
        groups.append(Group(key, title, len(items), [render_example(e, max_act, start) for e in items] if shown
                            else None))
    return groups


def histogram_svg(counts: Sequence[int], lo: float, hi: float, max_act: float, width: int = 480,
                  height: int = 140, bars: int = 48) -> SafeString:
    """An accessible SVG bar chart of the activation histogram over the range that holds values."""
    if not counts or sum(counts) == 0 or hi <= lo:
        return mark_safe('<p class="muted">No activations recorded.</p>')
    n = len(counts)
    used = [i for i, c in enumerate(counts) if c]
    first, last = used[0], used[-1] + 1
    step = (hi - lo) / n
    span = max(1, last - first)
    per_bar = max(1, -(-span // bars))
    merged = [sum(counts[i:i + per_bar]) for i in range(first, last, per_bar)]
    peak = max(merged)
    bar_w = width / len(merged)
    rects = []
    for k, c in enumerate(merged):
        h = 0 if c == 0 else max(1.0, (height - 20) * c / peak)
        a = lo + (first + k * per_bar) * step
        b = a + per_bar * step
        rects.append((f"{k * bar_w:.1f}", f"{height - 20 - h:.1f}", f"{max(bar_w - 1, 1):.1f}", f"{h:.1f}",
                      f"{a:.3g} to {b:.3g}: {c:,} tokens"))
    body = format_html_join("", '<rect x="{}" y="{}" width="{}" height="{}"><title>{}</title></rect>', rects)
    left = lo + first * step
    right = lo + last * step
    # data-lo / data-hi: the values at the chart's left and right edges (the last bar may reach past
    # ``right``), so a page can mark a value on it (the live "test your own text" box does).
    edge = left + per_bar * len(merged) * step
    return format_html(
        '<svg class="hist" viewBox="0 0 {w} {h}" role="img" aria-label="Histogram of activations from {l} '
        'to {r}; peak bin {p} tokens" data-lo="{lo}" data-hi="{hi}">{body}<text x="0" y="{t}">{l}</text>'
        '<text x="{w}" y="{t}" text-anchor="end">{r}</text></svg>',
        w=width, h=height, l=f"{left:.3g}", r=f"{right:.3g}", p=f"{peak:,}", body=body, t=height - 4,
        lo=repr(left), hi=repr(edge))
