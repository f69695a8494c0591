"""What a caller asks the inference service: one plain, JSON-serialisable dataclass per operation.

Sources are named by id (``6-mlp``), not passed as objects, so a query crosses a process boundary as it is;
the service resolves ids to sources once per (model, source). A text is a string (run as ``[BOS] +
tokens``) or a list of token ids (run as given). Answers are the result dataclasses of the computations
(``TextActivations``, ``TopFeatures``, ...); docs/inference.md defines every field.

Density filtering: the caller's database knows the features' densities, the service does not; a query
names the features to leave out (``exclude``, by source id; e.g. those above the caller's density
threshold), which keeps the query small when a source has tens of thousands of features.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from featurepedia.inference.activations import TextActivations
from featurepedia.inference.attribution import Attribution
from featurepedia.inference.generation import Sampling
from featurepedia.inference.steering import SteerResult
from featurepedia.inference.top_features import TopFeatures, TopKByToken

TextInput = str | list[int]


@dataclass(frozen=True)
class ActivationsQuery:
    """Per-token activations of features ``indices`` of one source over ``texts``."""

    model: str
    source: str
    indices: list[int]
    texts: list[TextInput]


@dataclass(frozen=True)
class TopFeaturesQuery:
    """The top features of one or several sources over a text, ranked together."""

    model: str
    sources: list[str]
    text: TextInput
    num_results: int = 20
    sort_indexes: list[int] | None = None  # token positions to rank by (0 = BOS); None: every position
    ignore_bos: bool = True
    exclude: dict[str, list[int]] = field(default_factory=dict)  # features left out, by source id


@dataclass(frozen=True)
class TopKQuery:
    """At each token, the ``k`` features of one source with the highest activation there."""

    model: str
    source: str
    text: TextInput
    k: int = 5
    ignore_bos: bool = True
    exclude: list[int] = field(default_factory=list)


@dataclass(frozen=True)
class AttributionQuery:
    """How much each token moves feature ``index``'s activation at position ``target``.

    ``method`` is ``"ablation"`` (zero embedding, batched) or ``"gradient_x_input"``; ``include_target`` and
    ``positions`` apply to ablation only.
    """

    model: str
    source: str
    index: int
    text: TextInput
    target: int
    method: str = "ablation"
    include_target: bool = False
    positions: list[int] | None = None


@dataclass(frozen=True)
class SteeredFeature:
    source: str
    index: int
    strength: float


@dataclass(frozen=True)
class SteerQuery:
    """Generate from ``[BOS] + prompt`` with ``features`` pushed, and the default text beside it."""

    model: str
    prompt: TextInput
    features: list[SteeredFeature]
    sampling: Sampling = field(default_factory=Sampling)
    strength_multiplier: float = 1.0


@dataclass(frozen=True)
class SteerChatQuery:
    """Chat steering: ``[{role, content}]`` messages through the model's chat template."""

    model: str
    messages: list[dict[str, str]]
    features: list[SteeredFeature]
    default_messages: list[dict[str, str]] | None = None
    steer_special_tokens: bool = True
    sampling: Sampling = field(default_factory=Sampling)
    strength_multiplier: float = 1.0


Query = ActivationsQuery | TopFeaturesQuery | TopKQuery | AttributionQuery | SteerQuery | SteerChatQuery


@dataclass(frozen=True)
class Operation:
    """One operation of the service: its name (the HTTP route's last part), query and answer types."""

    name: str
    query: type
    result: Any  # a type such as list[TextActivations]


OPERATIONS: Mapping[str, Operation] = {op.name: op for op in [
    Operation("activations", ActivationsQuery, list[TextActivations]),
    Operation("top-features", TopFeaturesQuery, TopFeatures),
    Operation("topk-by-token", TopKQuery, TopKByToken),
    Operation("attribution", AttributionQuery, Attribution),
    Operation("steer", SteerQuery, SteerResult),
    Operation("steer-chat", SteerChatQuery, SteerResult),
]}
OPERATION_OF: Mapping[type, Operation] = {op.query: op for op in OPERATIONS.values()}


def texts_of(query: Query) -> list[TextInput]:
    """Every text a query runs (chat messages' contents included), for the checks made before queueing."""
    if isinstance(query, ActivationsQuery):
        return list(query.texts)
    if isinstance(query, TopFeaturesQuery | TopKQuery | AttributionQuery):
        return [query.text]
    if isinstance(query, SteerQuery):
        return [query.prompt]
    messages = [*query.messages, *(query.default_messages or [])]
    return [m.get("content", "") for m in messages if isinstance(m.get("content"), str)]
