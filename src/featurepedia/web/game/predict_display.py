"""A Predict puzzle's texts as templates show them: tokens to mark, and after answering, the truth beside
the player's marks. Shading is a class (``lvl0``..``lvl10``), never an inline style, so pages need no
``unsafe-inline`` in their content security policy.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from featurepedia.web.game.predict import PuzzleText, square
from featurepedia.web.text_rules import visible_token

LEVELS = 10


def visible(token: str) -> str:
    """The token as the clues show it (see :func:`featurepedia.web.text_rules.visible_token`)."""
    return visible_token(token)


@dataclass
class TokenView:
    index: int
    text: str
    value: float  # the true activation (shown after answering)
    level: int  # the true activation as 0..LEVELS of the scale
    mark: float  # the player's mark, 0..10

    @property
    def mark_level(self) -> int:
        return round(self.mark)


@dataclass
class TextView:
    number: int  # 0-based, as the form's field names use it
    tokens: list[TokenView]
    activating: bool
    square: str = ""

    @property
    def marked(self) -> int:
        return sum(1 for t in self.tokens if t.mark > 0)


def _level(value: float, scale: float) -> int:
    if scale <= 0 or value <= 0:
        return 0
    return max(1, min(LEVELS, round(LEVELS * value / scale)))  # anything active shows, however faintly


def text_views(texts: Sequence[PuzzleText], scale: float,
               marks: Sequence[Sequence[float]] | None = None) -> list[TextView]:
    """Texts with their tokens; ``marks`` (after answering) adds the player's marks and each text's square.

    Args:
        scale: the activation shown darkest (the feature's max activation).
    """
    views = []
    for r, text in enumerate(texts):
        row = list(marks[r]) if marks is not None else [0.0] * len(text.tokens)
        tokens = [TokenView(i, visible(tok), val, _level(val, scale), float(row[i]))
                  for i, (tok, val) in enumerate(zip(text.tokens, text.truth, strict=True))]
        views.append(TextView(r, tokens, text.activating, square(row, text.truth) if marks is not None else ""))
    return views
