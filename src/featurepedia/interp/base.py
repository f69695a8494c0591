"""What every explainer and scorer provides, and the result a scorer returns."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol, runtime_checkable

from featurepedia.interp.records import ActivationRecord


@dataclass
class ScoreResult:
    """A score of one explanation on one feature's records.

    Attributes:
        value: the score (AUROC, correlation or balanced accuracy, depending on the scorer).
        details: JSON-serialisable; always holds ``scorer``, ``version`` and ``predictions`` (one per record,
            in the order given), plus scorer-specific fields.
    """

    value: float
    details: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@runtime_checkable
class Explainer(Protocol):
    """Writes an explanation of a feature from its activation records."""

    name: str
    version: str

    def explain(self, records: Sequence[ActivationRecord]) -> str: ...


@runtime_checkable
class Scorer(Protocol):
    """Scores how well an explanation predicts a feature's activations on records."""

    name: str
    version: str

    def score(self, explanation: str, records: Sequence[ActivationRecord]) -> ScoreResult: ...
