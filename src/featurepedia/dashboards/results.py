"""What a dashboards run produces: one FeatureDashboard per feature plus the run's description."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray


@dataclass(slots=True)  # a run makes ~130 per feature; slots make them cheaper to create
class Example:
    """One context shown for a feature.

    Attributes:
        token_ids: the context's token ids (with BOS first when the run prepended one).
        tokens: display strings, one per token (see lm.tokens).
        notes: hover notes for tokens that need one, by position.
        values: the feature's activation at each position (the BOS position is stored as 0): a list, or a
            float64 NumPy row when it comes straight from a run (sinks write it without a Python float
            per value; ``values_list()`` gives a list either way).
        max_value / max_index: the largest activation and where it is.
        bin: "top", "q0".."q9" (activation-quantile groups, q9 highest) or "negative" (not activating).
        rank: order within the bin (0 = first shown).
        context: the context's index in the run's deterministic stream (-1 when unknown).
    """

    token_ids: list[int]
    tokens: list[str]
    notes: dict[int, str]
    values: list[float] | NDArray[np.float64]
    max_value: float
    max_index: int
    bin: str
    rank: int
    context: int = -1

    def values_list(self) -> list[float]:
        return self.values.tolist() if isinstance(self.values, np.ndarray) else list(self.values)


@dataclass
class FeatureDashboard:
    """Everything the feature page shows that comes from the model and the corpus."""

    index: int
    max_act: float
    min_act: float
    density: float
    hist_counts: list[int]
    hist_lo: float
    hist_hi: float
    top_logits: list[tuple[str, float]] = field(default_factory=list)
    bottom_logits: list[tuple[str, float]] = field(default_factory=list)
    neighbours: list[tuple[int, float]] = field(default_factory=list)
    examples: list[Example] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        for example, row in zip(self.examples, data["examples"], strict=True):
            row["values"] = example.values_list()
        return data


@dataclass
class RunInfo:
    """A dashboards run: model, source and the exact config, saved next to its output."""

    model_id: str
    model_info: dict[str, Any]
    source: dict[str, Any]
    config: dict[str, Any]
    n_tokens: int = 0
    n_contexts: int = 0
    density_threshold: str = ""
    versions: dict[str, str] = field(default_factory=dict)
    elapsed_s: float = 0.0
    timings: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)
