"""Per-token activations of features over texts, as the dashboards record them.

A feature's activation at a token is ``source.encode(hidden)[token, index]`` where ``hidden`` is the
activation at the source's hook point: for MLP neurons the neuron's value at ``mlp.hook_post``, for an SAE
its encoder's output. Texts run as ``[BOS] + tokens``, like the dashboards' contexts, and the BOS position
is reported as 0 and left out of the max and min, as the dashboards store it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import Tensor

from featurepedia.inference.forward import capture
from featurepedia.inference.inputs import Text, has_bos, make_batch, token_ids
from featurepedia.inference.limits import DEFAULT_LIMITS, Limits, check_count, check_features
from featurepedia.lm.model import LanguageModel
from featurepedia.lm.tokens import TokenText
from featurepedia.sources.base import Source


@dataclass(frozen=True)
class FeatureValues:
    """One feature's activations over one text.

    Attributes:
        values: one per token ([pos]); 0 at the BOS position.
        max_value / max_index, min_value / min_index: over the tokens after BOS (all tokens when there is
            no BOS, or only BOS).
    """

    source_id: str
    index: int
    values: list[float]
    max_value: float
    max_index: int
    min_value: float
    min_index: int


@dataclass(frozen=True)
class TextActivations:
    """A text's tokens and the requested features' activations over it."""

    token_ids: list[int]
    tokens: list[TokenText]
    features: list[FeatureValues]

    @property
    def token_strings(self) -> list[str]:
        return [t.text for t in self.tokens]


@dataclass(frozen=True)
class ActivationRequest:
    """Features of one source over some texts: one of the requests ``batch_activations`` runs together."""

    source: Source
    indices: Sequence[int]
    texts: Sequence[Text]


def summarize(source_id: str, index: int, values: Tensor, skip_bos: bool) -> FeatureValues:
    """A FeatureValues from one feature's values over a text ([pos]); ``skip_bos`` zeroes position 0."""
    values = values.float().clone()
    start = 1 if skip_bos and len(values) > 1 else 0
    if skip_bos:
        values[0] = 0.0
    counted = values[start:]
    hi, lo = int(counted.argmax()) + start, int(counted.argmin()) + start
    as_list = values.tolist()
    return FeatureValues(source_id, index, as_list, as_list[hi], hi, as_list[lo], lo)


@torch.inference_mode()
def activations(model: LanguageModel, source: Source, indices: Sequence[int], texts: Sequence[Text],
                limits: Limits = DEFAULT_LIMITS) -> list[TextActivations]:
    """Activations of features ``indices`` of ``source`` over each text (one result per text, in order)."""
    return batch_activations(model, [ActivationRequest(source, indices, texts)], limits)[0]


@torch.inference_mode()
def batch_activations(model: LanguageModel, requests: Sequence[ActivationRequest],
                      limits: Limits = DEFAULT_LIMITS) -> list[list[TextActivations]]:
    """Several independent requests in one forward pass (rows right-padded; hooks of all their sources
    recorded in the same pass, which stops at the deepest).

    Each row computes what it would alone (causal attention, positions from 0), so a request's answer does
    not depend on what it was batched with, up to float rounding (~1e-6).

    Returns:
        For each request, one TextActivations per text.
    """
    check_count("the number of requests", len(requests), limits.max_texts)
    checked = [check_features(r.source, list(r.indices), limits) for r in requests]
    ids: list[list[int]] = []
    for request in requests:
        check_count("the number of texts", len(request.texts), limits.max_texts)
        ids.extend(token_ids(model, text, limits) for text in request.texts)
    check_count("the number of texts in one batch", len(ids), limits.max_texts)
    batch = make_batch(model, ids)
    hidden = capture(model, [r.source.hook_name for r in requests], input_ids=batch.input_ids,
                     attention_mask=batch.attention_mask)
    out: list[list[TextActivations]] = []
    row = 0
    for request, indices in zip(requests, checked, strict=True):
        wanted = torch.tensor(indices, dtype=torch.long)
        results = []
        for _ in request.texts:
            row_ids = batch.ids[row]
            # One row at a time: an SAE's full [pos, n_features] encoding is large for a whole batch.
            acts = request.source.encode(hidden[request.source.hook_name][row, : len(row_ids)])  # [pos, F]
            picked = acts.index_select(-1, wanted.to(acts.device)).T.cpu()  # [k, pos]
            bos = has_bos(model, row_ids)
            features = [summarize(request.source.source_id, i, picked[j], bos) for j, i in enumerate(indices)]
            results.append(TextActivations(row_ids, model.display(row_ids), features))
            row += 1
        out.append(results)
    return out
