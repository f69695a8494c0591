"""What a dashboards run produces: one FeatureDashboard per feature plus the run's description."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field, fields
from typing import Any, overload

import numpy as np
from numpy.typing import NDArray


@dataclass(slots=True)  # a run makes ~130 per feature; slots make them cheaper to create
class Example:
    """One context shown for a feature.

    Attributes:
        token_ids: the context's token ids (with BOS first when the run prepended one).
        tokens: display strings, one per token (see lm.tokens).
        notes: hover notes for tokens that need one, by position.
        special: positions of the tokenizer's special tokens (e.g. the end-of-text token between
            documents), which pages show apart from text.
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
    special: list[int]
    values: list[float] | NDArray[np.float64]
    max_value: float
    max_index: int
    bin: str
    rank: int
    context: int = -1

    def values_list(self) -> list[float]:
        return self.values.tolist() if isinstance(self.values, np.ndarray) else list(self.values)


# token ids, display strings, hover notes by position, positions of special tokens
ContextText = tuple[list[int], list[str], dict[int, str], list[int]]


@dataclass(slots=True)
class ExampleColumns:
    """The examples of a chunk of features as arrays: one row per example, by feature then display order.

    A run finishes its examples this way (no Python object per example); the Parquet sink writes the
    arrays as they are, and ``ExampleList`` makes Example objects only for a consumer that asks.

    Attributes:
        feature, rank, context, max_index: int64 [n]; bin: int64 [n], an index into ``bin_names``.
        values: float64 [n, T] (rounded as stored); max_value: float64 [n].
        texts: every context's token ids, display strings, notes and special positions, by context id.
    """

    feature: NDArray[np.int64]
    bin: NDArray[np.int64]
    bin_names: list[str]
    rank: NDArray[np.int64]
    context: NDArray[np.int64]
    values: NDArray[np.float64]
    max_value: NDArray[np.float64]
    max_index: NDArray[np.int64]
    texts: Mapping[int, ContextText]

    def __len__(self) -> int:
        return len(self.feature)

    def example(self, row: int) -> Example:
        ids, tokens, notes, special = self.texts[int(self.context[row])]
        # Token lists and notes are shared by every example of the same context (they are never mutated).
        return Example(token_ids=ids, tokens=tokens, notes=notes, special=special, values=self.values[row],
                       max_value=float(self.max_value[row]), max_index=int(self.max_index[row]),
                       bin=self.bin_names[self.bin[row]], rank=int(self.rank[row]), context=int(self.context[row]))


class ExampleList(Sequence[Example]):
    """One feature's examples: rows [start, stop) of an ExampleColumns, made into Example objects on first
    use (and kept)."""

    __slots__ = ("columns", "start", "stop", "_made")

    def __init__(self, columns: ExampleColumns, start: int, stop: int) -> None:
        self.columns, self.start, self.stop = columns, start, stop
        self._made: list[Example] | None = None

    def _items(self) -> list[Example]:
        if self._made is None:
            self._made = [self.columns.example(r) for r in range(self.start, self.stop)]
        return self._made

    def __len__(self) -> int:
        return self.stop - self.start

    @overload
    def __getitem__(self, i: int) -> Example: ...

    @overload
    def __getitem__(self, i: slice) -> list[Example]: ...

    def __getitem__(self, i: int | slice) -> Example | list[Example]:
        return self._items()[i]

    def __iter__(self) -> Iterator[Example]:
        return iter(self._items())

    def __eq__(self, other: object) -> bool:
        return list(self) == list(other) if isinstance(other, Sequence) else NotImplemented

    def __repr__(self) -> str:
        return f"ExampleList({len(self)} examples)"


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
    examples: Sequence[Example] = field(default_factory=list)  # a list, or an ExampleList from a run

    def to_dict(self) -> dict[str, Any]:
        data = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "examples"}
        data = asdict(FeatureDashboard(**data))
        data["examples"] = [{**{f.name: getattr(e, f.name) for f in fields(e)}, "values": e.values_list()}
                            for e in self.examples]
        return data


@dataclass
class RunInfo:
    """A dashboards run: model, source and the exact config, saved next to its output.

    Attributes:
        n_layers / d_model: the model's number of blocks and residual width.
    """

    model_id: str
    model_info: dict[str, Any]
    source: dict[str, Any]
    config: dict[str, Any]
    n_layers: int = 0
    d_model: int = 0
    n_tokens: int = 0
    n_contexts: int = 0
    density_threshold: str = ""
    versions: dict[str, str] = field(default_factory=dict)
    elapsed_s: float = 0.0
    timings: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)
