"""Token attribution: which earlier tokens make a feature fire at a chosen token.

**Ablation.** Token ``i`` is removed by setting its input embedding to zero, everything else unchanged;
its attribution is ``act(original) - act(with token i zeroed)`` at the target (positive: the token raises
the activation). Why zero the embedding rather than the alternatives:

- deleting the token shifts every later token one position left, the target included, so the change
  mixes the token's content with a change of positions (and of the target's own position);
- replacing it with another token (pad, BOS) puts that token's meaning in its place; BOS in particular is
  an attention sink with outsized activations, and a second one changes everything after it;
- a zero embedding removes the token's content and nothing else: positions stay (GPT-2 still adds the
  position embedding, RoPE models rotate by the same positions), and the zero embedding is the usual
  baseline of attribution methods, so the gradient variant below is this ablation's first-order estimate.

All ablations run as one batch (row 0 the unablated text, row r the text with one token zeroed), only as
far as the target: a causal model's activation at the target cannot depend on later tokens, so their
attribution is exactly 0 without computing it (positions after the target can still be asked for
explicitly; they are then computed, which the tests use to check the claim).

**Gradient x input.** ``grad_e act · e`` summed over the embedding dimension, for each token's input
embedding ``e``: the linear estimate of the ablation above, from one forward and one backward pass.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch

from featurepedia.errors import UsageError
from featurepedia.inference.forward import capture
from featurepedia.inference.inputs import Text, make_batch, token_ids
from featurepedia.inference.limits import DEFAULT_LIMITS, Limits, check_feature, check_positions
from featurepedia.lm.model import LanguageModel
from featurepedia.lm.tokens import TokenText
from featurepedia.sources.base import Source


@dataclass(frozen=True)
class Attribution:
    """How much each token moves a feature's activation at the target token.

    Attributes:
        activation: the feature's activation at ``target`` on the unchanged text.
        attributions: one per token ([pos]): ``activation`` minus the activation with that token removed
            (or its gradient-times-input estimate); 0 for tokens not computed (after the target; the
            target itself unless asked for).
        positions: the positions actually computed.
        method: ``"ablation"`` or ``"gradient_x_input"``.
    """

    source_id: str
    index: int
    target: int
    token_ids: list[int]
    tokens: list[TokenText]
    activation: float
    attributions: list[float]
    positions: list[int]
    method: str


@torch.inference_mode()
def ablation_attribution(model: LanguageModel, source: Source, index: int, text: Text, target: int, *,
                         include_target: bool = False, positions: Sequence[int] | None = None,
                         max_batch: int = 128, limits: Limits = DEFAULT_LIMITS) -> Attribution:
    """Zero-embedding ablation of each token before ``target`` (and the target with ``include_target``).

    Args:
        target: the token position whose activation is explained (0 = BOS).
        positions: which tokens to ablate instead of the default (every position before the target).
        max_batch: ablations per forward pass; more are run in further passes of the same shape.
    """
    ids, index, target = _checked(model, source, index, text, target, limits)
    chosen = list(range(target + 1 if include_target else target)) if positions is None else \
        sorted(set(check_positions("ablated position", list(positions), len(ids))))
    if max_batch < 1:
        raise UsageError(f"max_batch is {max_batch}; it must be at least 1")
    length = max([target, *chosen]) + 1  # nothing after this can reach the target or a chosen token
    input_ids = make_batch(model, [ids[:length]]).input_ids  # [1, length]
    embeds = model.hf.get_input_embeddings()(input_ids)  # [1, length, d_model]
    # The unablated text is row 0 of the first pass, so an ablation that cannot matter gives exactly 0.
    values: list[float] = []
    for start in range(0, max(len(chosen), 1), max_batch):
        part = chosen[start:start + max_batch]
        rows = len(part) + (1 if start == 0 else 0)
        variants = embeds.repeat(rows, 1, 1)  # [rows, length, d_model]
        if part:
            variants[torch.arange(rows - len(part), rows), torch.tensor(part)] = 0.0
        values.extend(_activation_at(model, source, index, target, variants).tolist())
    original, ablated = values[0], values[1:]
    deltas = [0.0] * len(ids)
    for p, value in zip(chosen, ablated, strict=True):
        deltas[p] = original - value
    return Attribution(source.source_id, index, target, ids, model.display(ids), original, deltas,
                       chosen, "ablation")


def gradient_attribution(model: LanguageModel, source: Source, index: int, text: Text, target: int, *,
                         limits: Limits = DEFAULT_LIMITS) -> Attribution:
    """Gradient times input of the feature's activation at ``target`` for every token up to it."""
    ids, index, target = _checked(model, source, index, text, target, limits)
    input_ids = make_batch(model, [ids[: target + 1]]).input_ids
    # Autograd is needed here even when the caller (a service worker) runs under inference mode.
    with torch.inference_mode(False), torch.enable_grad():
        embeds = model.hf.get_input_embeddings()(input_ids.clone()).detach().requires_grad_(True)
        activation = _activation_at(model, source, index, target, embeds)[0]
        # autograd.grad, not backward(): the model's parameters collect no .grad and stay untouched.
        (grad,) = torch.autograd.grad(activation, embeds)
        scores = (grad * embeds).sum(dim=-1)[0].detach()  # [target + 1]
    deltas = scores.tolist() + [0.0] * (len(ids) - target - 1)
    return Attribution(source.source_id, index, target, ids, model.display(ids), float(activation.detach()),
                       deltas, list(range(target + 1)), "gradient_x_input")


def _activation_at(model: LanguageModel, source: Source, index: int, target: int,
                   embeds: torch.Tensor) -> torch.Tensor:
    """[n] the feature's activation at ``target`` for each row of ``embeds`` ([n, pos, d_model])."""
    hidden = capture(model, [source.hook_name], inputs_embeds=embeds)[source.hook_name]
    return source.encode(hidden[:, target])[:, index].float()


def _checked(model: LanguageModel, source: Source, index: int, text: Text, target: int,
             limits: Limits) -> tuple[list[int], int, int]:
    ids = token_ids(model, text, limits)
    index = check_feature(source, index)
    (target,) = check_positions("target position", [target], len(ids))
    return ids, index, target
