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
    """Writes an explanation of a feature from its activation records.

    Attributes:
        name / version: the registered name and the version of its method (a new version = new texts).
        last_details: what the last :meth:`explain` call did, JSON-serialisable and stored with the
            explanation: always ``explainer`` and ``version``; LLM explainers add ``model``, the ``raw``
            output and their usage (``prompt_tokens``, ``completion_tokens``, ``requests``, ``cost_usd``).
    """

    name: str
    version: str
    last_details: dict[str, Any]

    @property
    def method(self) -> str:
        """What to store as the explanation's method; one explanation per feature and method."""
        ...

    def explain(self, records: Sequence[ActivationRecord]) -> str: ...


@runtime_checkable
class Scorer(Protocol):
    """Scores how well an explanation predicts a feature's activations on records.

    Attributes:
        uses_llm: True when each score asks a language model (seconds per explanation and maybe a cost), so
            callers budget fewer calls; False for scorers that only embed (milliseconds, nothing to pay).
        token_level (optional, default False): True when the scorer compares active and quiet tokens and so
            can score a feature that has no non-activating example (see interp.split.held_out_split).
    """

    name: str
    version: str
    uses_llm: bool

    def score(self, explanation: str, records: Sequence[ActivationRecord]) -> ScoreResult: ...
