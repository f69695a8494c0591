"""Running a query on the service's model: sources by id (resolved once), then the computation.

Everything here runs on the service's worker thread, the one thread that uses the model.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from featurepedia.errors import UsageError
from featurepedia.inference.activations import ActivationRequest, activations, batch_activations
from featurepedia.inference.attribution import ablation_attribution, gradient_attribution
from featurepedia.inference.inputs import token_ids
from featurepedia.inference.limits import Limits, check_count, check_feature, check_features
from featurepedia.inference.queries import (
    ActivationsQuery,
    AttributionQuery,
    Query,
    SteerChatQuery,
    SteeredFeature,
    SteerQuery,
    TopFeaturesQuery,
    TopKQuery,
)
from featurepedia.inference.steering import SteerFeature, steer, steer_chat
from featurepedia.inference.top_features import top_features_of_sources, topk_by_token
from featurepedia.lm.model import LanguageModel
from featurepedia.sources.base import Source
from featurepedia.sources.resolve import source_for

# Where a source's weights are: (model id, source id) -> an SAE folder or hub spec (see open_sae), or None
# for MLP neurons. The database knows, so the web layer passes its own lookup; it may raise NotFoundError
# for unknown sources.
SourcePath = Callable[[str, str], str | Path | None]
METHODS = ("ablation", "gradient_x_input")


def neurons_only(model_id: str, source_id: str) -> None:
    """The default registry: no SAE weights anywhere, so only ``<layer>-mlp`` neuron sources resolve."""
    return None


class SourceCache:
    """Sources of one model by id, built on first use and kept (an SAE's weights load once)."""

    def __init__(self, model_id: str, model: LanguageModel, source_path: SourcePath) -> None:
        self.model_id = model_id
        self.model = model
        self.source_path = source_path
        self._sources: dict[str, Source] = {}

    def get(self, source_id: str) -> Source:
        if source_id not in self._sources:  # a failure is not kept: the next request tries again
            path = self.source_path(self.model_id, source_id)
            self._sources[source_id] = source_for(self.model, source_id, sae_path=path)
        return self._sources[source_id]

    def loaded(self) -> list[str]:
        return sorted(list(self._sources))  # a copy first: the worker may be adding one


def prepare_activations(sources: SourceCache, query: ActivationsQuery, limits: Limits) -> ActivationRequest:
    """The request ``batch_activations`` runs, checked on its own (so one bad query never fails a batch it
    would have joined), with its texts as token ids (so the batch does not tokenise them again)."""
    source = sources.get(query.source)
    indices = check_features(source, list(query.indices), limits)
    check_count("the number of texts", len(query.texts), limits.max_texts)
    return ActivationRequest(source, indices, [token_ids(sources.model, t, limits) for t in query.texts])


def padded_tokens(requests: Sequence[ActivationRequest]) -> int:
    """Tokens of the padded batch these requests make (rows x the longest row)."""
    rows = [len(t) for r in requests for t in r.texts]
    return len(rows) * max(rows, default=0)


def run_activation_batch(model: LanguageModel, requests: Sequence[ActivationRequest], limits: Limits) -> list[Any]:
    if len(requests) == 1:
        (request,) = requests
        return [activations(model, request.source, request.indices, request.texts, limits)]
    return list(batch_activations(model, requests, limits))


def run_query(sources: SourceCache, query: Query, limits: Limits,
              generator: Callable[[], LanguageModel] | None = None) -> Any:
    """The answer to one query (activation queries normally go through the batch path instead)."""
    model = sources.model
    if isinstance(query, ActivationsQuery):
        return run_activation_batch(model, [prepare_activations(sources, query, limits)], limits)[0]
    if isinstance(query, TopFeaturesQuery):
        chosen = [sources.get(s) for s in dict.fromkeys(query.sources)]
        unknown = sorted(set(query.exclude) - {s.source_id for s in chosen})
        if unknown:
            raise UsageError(f"exclude names source(s) {', '.join(unknown)} that the query does not search")
        densities = {s.source_id: _excluded(s, query.exclude.get(s.source_id, [])) for s in chosen}
        return top_features_of_sources(
            model, chosen, query.text, num_results=query.num_results, sort_indexes=query.sort_indexes,
            ignore_bos=query.ignore_bos, densities=densities, density_threshold=0.5, limits=limits)
    if isinstance(query, TopKQuery):
        source = sources.get(query.source)
        return topk_by_token(model, source, query.text, k=query.k, ignore_bos=query.ignore_bos,
                             densities=_excluded(source, query.exclude), density_threshold=0.5, limits=limits)
    if isinstance(query, AttributionQuery):
        source = sources.get(query.source)
        if query.method == "gradient_x_input":
            return gradient_attribution(model, source, query.index, query.text, query.target, limits=limits)
        if query.method != "ablation":
            raise UsageError(f"attribution method {query.method!r} is unknown; use one of {', '.join(METHODS)}")
        return ablation_attribution(model, source, query.index, query.text, query.target,
                                    include_target=query.include_target, positions=query.positions, limits=limits)
    if isinstance(query, SteerQuery | SteerChatQuery) and generator is not None:
        model = generator()  # the generation copy (bf16 where that is faster); same weights, same hook points
    if isinstance(query, SteerQuery):
        return steer(model, query.prompt, _steered(sources, query.features), sampling=query.sampling,
                     strength_multiplier=query.strength_multiplier, limits=limits)
    if isinstance(query, SteerChatQuery):
        return steer_chat(model, query.messages, _steered(sources, query.features),
                          default_messages=query.default_messages, steer_special_tokens=query.steer_special_tokens,
                          sampling=query.sampling, strength_multiplier=query.strength_multiplier, limits=limits)
    raise TypeError(f"not an inference query: {type(query).__name__}")


def _excluded(source: Source, indices: Sequence[int]) -> Tensor:
    """[n_features] 1 for the features to leave out, 0 for the rest: with a density threshold of 0.5 the
    computations' own density filter drops exactly the excluded features."""
    marks = torch.zeros(source.n_features)
    if indices:
        marks[[check_feature(source, i) for i in indices]] = 1.0
    return marks


def _steered(sources: SourceCache, features: Sequence[SteeredFeature]) -> list[SteerFeature]:
    return [SteerFeature(sources.get(f.source), f.index, f.strength) for f in features]
