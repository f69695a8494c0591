"""Activation records: the per-token activations of one feature on one text, and explanation checks."""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

from featurepedia.interp.errors import InvalidExplanation, RecordError

MAX_EXPLANATION_CHARS = 500


@dataclass
class ActivationRecord:
    """One text as tokens, with the feature's activation on each token.

    A record whose values are all <= 0 is a non-activating example. Signed features (e.g. SmolLM2's gated
    MLP neurons) only count their positive part: scorers clip negative values to 0.

    Attributes:
        tokens: display strings of the tokens, in order (``"".join(tokens)`` is the text).
        values: one activation per token.
    """

    tokens: list[str]
    values: list[float]

    def __post_init__(self) -> None:
        if len(self.tokens) != len(self.values):
            raise RecordError(
                f"a record has {len(self.tokens)} tokens but {len(self.values)} values; give one value per token"
            )
        if not all(math.isfinite(v) for v in self.values):
            raise RecordError("a record's values must be finite numbers (NaN or infinity found); replace them with 0")

    @property
    def max_value(self) -> float:
        return max(self.values, default=0.0)

    @property
    def is_activating(self) -> bool:
        return self.max_value > 0

    @property
    def argmax(self) -> int:
        """Index of the most active token (the first one on ties)."""
        return max(range(len(self.values)), key=self.values.__getitem__) if self.values else 0

    @property
    def text(self) -> str:
        return "".join(self.tokens)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ActivationRecord:
        return cls(tokens=list(data["tokens"]), values=[float(v) for v in data["values"]])


def records_hash(records: Sequence[ActivationRecord]) -> str:
    """A content hash of records (tokens and values to 6 digits): the key of per-feature caches."""
    payload = json.dumps([[r.tokens, [round(float(v), 6) for v in r.values]] for r in records])
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()[:32]


def split_by_activation(records: Sequence[ActivationRecord]) -> tuple[list[int], list[int]]:
    """Indices of activating and of non-activating records."""
    pos = [i for i, r in enumerate(records) if r.is_activating]
    neg = [i for i, r in enumerate(records) if not r.is_activating]
    return pos, neg


def require_both_kinds(records: Sequence[ActivationRecord], scorer: str) -> tuple[list[int], list[int]]:
    """Like :func:`split_by_activation`, raising RecordError unless both kinds are present."""
    pos, neg = split_by_activation(records)
    if not pos or not neg:
        raise RecordError(
            f"the {scorer} scorer needs both activating and non-activating records; got {len(pos)} activating "
            f"and {len(neg)} non-activating (non-activating = all values <= 0; see interp.split.held_out_split)"
        )
    return pos, neg


def validate_explanation(explanation: str) -> str:
    """Return the explanation stripped of surrounding whitespace, or raise InvalidExplanation.

    Raises:
        InvalidExplanation: it is empty or longer than MAX_EXPLANATION_CHARS characters.
    """
    if not isinstance(explanation, str):
        raise InvalidExplanation(f"an explanation must be a string, not {type(explanation).__name__}")
    text = explanation.strip()
    if not text:
        raise InvalidExplanation(
            f"the explanation is empty; write what the feature responds to (1 to {MAX_EXPLANATION_CHARS:,} characters)"
        )
    if len(text) > MAX_EXPLANATION_CHARS:
        raise InvalidExplanation(
            f"the explanation is {len(text):,} characters; the limit is {MAX_EXPLANATION_CHARS:,}"
        )
    return text
