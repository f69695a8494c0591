"""Which features fire on a text: the top features of one or several sources, and the top k at each token.

A feature's score is its largest activation over the ranked positions (every token, or the chosen
``sort_indexes``), the BOS position left out when ``ignore_bos``. Features are dropped when their stored
density is above ``density_threshold`` (always-on features say little about a text) and, for non-negative
sources (SAEs), when they do not fire (score <= 0). Ties go to the lower source, then the lower index.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import torch
from torch import Tensor

from featurepedia.errors import UsageError
from featurepedia.inference.forward import capture
from featurepedia.inference.inputs import Text, has_bos, make_batch, token_ids
from featurepedia.inference.limits import DEFAULT_LIMITS, Limits, check_count, check_finite, check_positions
from featurepedia.lm.model import LanguageModel
from featurepedia.lm.tokens import TokenText
from featurepedia.sources.base import Source


@dataclass(frozen=True)
class TopFeature:
    """A feature found on the text.

    Attributes:
        values: its activation at each token ([pos]; 0 at BOS when ``ignore_bos``).
        max_value / max_index: its score and where it is (among the ranked positions).
    """

    source_id: str
    index: int
    values: list[float]
    max_value: float
    max_index: int


@dataclass(frozen=True)
class TopFeatures:
    token_ids: list[int]
    tokens: list[TokenText]
    features: list[TopFeature]  # highest score first
    sort_indexes: list[int]  # the positions ranked (BOS removed when ignored)


@dataclass(frozen=True)
class TokenTopK:
    """The k features with the highest activation at one token (highest first)."""

    position: int
    token: TokenText
    is_special: bool
    features: list[tuple[int, float]]  # (feature index, activation)


@dataclass(frozen=True)
class TopKByToken:
    source_id: str
    token_ids: list[int]
    tokens: list[TokenText]
    positions: list[TokenTopK]  # one per position (BOS left out when ``ignore_bos``)


@torch.inference_mode()
def top_features(model: LanguageModel, source: Source, text: Text, *, num_results: int = 20,
                 sort_indexes: Sequence[int] | None = None, ignore_bos: bool = True,
                 densities: Tensor | None = None, density_threshold: float | None = None,
                 limits: Limits = DEFAULT_LIMITS) -> TopFeatures:
    """The top features of one source over a text.

    Args:
        sort_indexes: token positions to rank by (0 = BOS); None ranks by every position.
        densities: [n_features] each feature's stored density (fraction of tokens active), needed with
            ``density_threshold``.
    """
    return top_features_of_sources(
        model, [source], text, num_results=num_results, sort_indexes=sort_indexes, ignore_bos=ignore_bos,
        densities=None if densities is None else {source.source_id: densities},
        density_threshold=density_threshold, limits=limits)


@torch.inference_mode()
def top_features_of_sources(model: LanguageModel, sources: Sequence[Source], text: Text, *,
                            num_results: int = 20, sort_indexes: Sequence[int] | None = None,
                            ignore_bos: bool = True, densities: Mapping[str, Tensor] | None = None,
                            density_threshold: float | None = None,
                            limits: Limits = DEFAULT_LIMITS) -> TopFeatures:
    """The top features over several sources (one forward pass to the deepest hook), ranked together.

    Args:
        densities: stored densities by source id ([n_features] each); a source without an entry is not
            filtered by density.
    """
    check_count("num_results", num_results, limits.max_results)
    if not sources:
        raise UsageError("no source to search; give at least one")
    ids = token_ids(model, text, limits)
    bos = ignore_bos and has_bos(model, ids)
    ranked = _ranked_positions(ids, sort_indexes, bos)
    hidden = capture(model, [s.hook_name for s in sources], input_ids=make_batch(model, [ids]).input_ids)
    candidates: list[tuple[float, int, int, Tensor, int]] = []  # (score, source no., index, values, argmax)
    for s, source in enumerate(sources):
        acts = source.encode(hidden[source.hook_name][0]).float().cpu()  # [pos, F]
        scores, where = acts[ranked].max(dim=0)  # [F]
        keep = torch.isfinite(scores) & _density_ok(source, densities, density_threshold)
        if source.nonnegative:
            keep &= scores > 0
        order = torch.sort(torch.where(keep, scores, -torch.inf), descending=True, stable=True).indices
        for f in order[: min(num_results, int(keep.sum()))].tolist():
            candidates.append((float(scores[f]), s, f, acts[:, f], ranked[int(where[f])]))
    candidates.sort(key=lambda c: (-c[0], c[1], c[2]))
    features = []
    for score, s, f, values, at in candidates[:num_results]:
        shown = values.clone()
        if bos:
            shown[0] = 0.0
        features.append(TopFeature(sources[s].source_id, f, shown.tolist(), score, at))
    return TopFeatures(ids, model.display(ids), features, ranked)


@torch.inference_mode()
def topk_by_token(model: LanguageModel, source: Source, text: Text, *, k: int = 5, ignore_bos: bool = True,
                  densities: Tensor | None = None, density_threshold: float | None = None,
                  limits: Limits = DEFAULT_LIMITS) -> TopKByToken:
    """At each token, the ``k`` features of ``source`` with the highest activation there.

    Features dropped by the density threshold, and (for SAEs) features that do not fire at a token, are
    not listed for it, so a position may list fewer than ``k``.
    """
    check_count("k (features per token)", k, limits.max_topk)
    ids = token_ids(model, text, limits)
    skip = ignore_bos and has_bos(model, ids)
    hidden = capture(model, [source.hook_name], input_ids=make_batch(model, [ids]).input_ids)
    acts = source.encode(hidden[source.hook_name][0]).float().cpu()  # [pos, F]
    by_source = None if densities is None else {source.source_id: densities}
    masked = torch.where(_density_ok(source, by_source, density_threshold), acts, -torch.inf)  # [pos, F]
    if source.nonnegative:
        masked = torch.where(masked > 0, masked, -torch.inf)
    order = torch.sort(masked, dim=-1, descending=True, stable=True).indices[:, :k]  # [pos, k]
    tokens = model.display(ids)
    positions = []
    for p in range(1 if skip else 0, len(ids)):
        picked = [(f, float(acts[p, f])) for f in order[p].tolist() if masked[p, f] > -torch.inf]
        positions.append(TokenTopK(p, tokens[p], tokens[p].special, picked))
    return TopKByToken(source.source_id, ids, tokens, positions)


def _ranked_positions(ids: list[int], sort_indexes: Sequence[int] | None, skip_bos: bool) -> list[int]:
    if sort_indexes is None or len(sort_indexes) == 0:
        chosen = list(range(len(ids)))
    else:
        chosen = sorted(set(check_positions("sort index", list(sort_indexes), len(ids))))
    if skip_bos and len(ids) > 1:
        chosen = [p for p in chosen if p != 0]
        if not chosen:
            raise UsageError("sort_indexes holds only position 0, the BOS token, which ignore_bos leaves "
                             "out; choose positions from 1 or set ignore_bos to false")
    return chosen


def _density_ok(source: Source, densities: Mapping[str, Tensor] | None, threshold: float | None) -> Tensor:
    """[F] bool: features whose stored density is not above the threshold (all, without one)."""
    everything = torch.ones(source.n_features, dtype=torch.bool)
    if threshold is None:
        return everything
    threshold = check_finite("density_threshold", threshold, 0.0, 1.0)
    density = None if densities is None else densities.get(source.source_id)
    if density is None:
        return everything
    if density.shape != (source.n_features,):
        raise UsageError(f"densities of {source.source_id} have shape {tuple(density.shape)}; expected "
                         f"({source.n_features},), one per feature")
    return ~(density.float().cpu() > threshold)
