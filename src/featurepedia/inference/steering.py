"""Steering: generate with features' decoder directions added at their hook points.

At every position, prompt included, each steered feature adds ``strength_multiplier * strength *
direction`` to the activation at its source's hook point, where ``direction`` is the feature's decoder
direction in that hook's space (``Source.decoder_directions()``: the one-hot vector of the neuron at
``mlp.hook_post`` for neurons, the SAE's ``W_dec`` row for an SAE). Features at the same hook add up.

The default (unsteered) text comes from the same seed and settings. When the two prompts have the same
length, both run as one batch of 2 whose hooks add to row 0 only: on CPU that costs about one run, not two.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import torch
from torch import Tensor

from featurepedia.errors import UsageError
from featurepedia.inference.generation import DEFAULT_SAMPLING, Generation, Sampling, generate_rows
from featurepedia.inference.inputs import Text, token_ids
from featurepedia.inference.limits import DEFAULT_LIMITS, Limits, check_count, check_feature, check_finite
from featurepedia.lm.model import HookFn, LanguageModel
from featurepedia.sources.base import Source

ROLES = ("system", "user", "assistant")


@dataclass(frozen=True)
class SteerFeature:
    """A feature to push, and how hard (negative strengths push it down)."""

    source: Source
    index: int
    strength: float


@dataclass(frozen=True)
class SteerResult:
    steered: Generation
    default: Generation


@torch.inference_mode()
def generate(model: LanguageModel, prompt: Text, sampling: Sampling = DEFAULT_SAMPLING,
             limits: Limits = DEFAULT_LIMITS) -> Generation:
    """Plain generation (no steering) from ``[BOS] + prompt``."""
    return generate_rows(model, [token_ids(model, prompt, limits)], sampling.checked(limits))[0]


@torch.inference_mode()
def steer(model: LanguageModel, prompt: Text, features: Sequence[SteerFeature], *,
          sampling: Sampling = DEFAULT_SAMPLING, strength_multiplier: float = 1.0, batch_default: bool = True,
          limits: Limits = DEFAULT_LIMITS) -> SteerResult:
    """Generate from ``[BOS] + prompt`` steered by ``features``, and the default text beside it."""
    ids = token_ids(model, prompt, limits)
    return _run(model, ids, ids, features, sampling, strength_multiplier, batch_default, None, limits)


@torch.inference_mode()
def steer_chat(model: LanguageModel, messages: Sequence[Mapping[str, str]], features: Sequence[SteerFeature], *,
               default_messages: Sequence[Mapping[str, str]] | None = None, steer_special_tokens: bool = True,
               sampling: Sampling = DEFAULT_SAMPLING, strength_multiplier: float = 1.0, batch_default: bool = True,
               limits: Limits = DEFAULT_LIMITS) -> SteerResult:
    """Chat steering: ``[{role, content}]`` messages through the model's chat template, then the
    assistant's reply is generated.

    Args:
        default_messages: the conversation for the default run (Neuronpedia keeps one per side, as the
            two replies differ turn by turn); None means the same as ``messages``.
        steer_special_tokens: False leaves the positions of special tokens (the template's markers such as
            ``<|im_start|>``) unsteered.
    """
    steered_ids = chat_ids(model, messages, limits)
    default_ids = steered_ids if default_messages is None else chat_ids(model, default_messages, limits)
    special = None if steer_special_tokens else torch.tensor(sorted(model.tokenizer.all_special_ids))
    return _run(model, steered_ids, default_ids, features, sampling, strength_multiplier, batch_default,
                special, limits)


def chat_ids(model: LanguageModel, messages: Sequence[Mapping[str, str]], limits: Limits) -> list[int]:
    """Token ids of a conversation in the model's chat template, ready for the assistant's reply."""
    if not getattr(model.tokenizer, "chat_template", None):
        raise UsageError(f"{model.model_id} has no chat template; use plain steering with a prompt instead")
    check_count("the number of chat messages", len(messages), limits.max_texts)
    for i, message in enumerate(messages):
        if not isinstance(message, Mapping) or message.get("role") not in ROLES \
                or not isinstance(message.get("content"), str):
            raise UsageError(f"chat message {i} must be {{'role': one of {', '.join(ROLES)}, "
                             f"'content': text}}; got {message!r}")
    text = model.tokenizer.apply_chat_template([dict(m) for m in messages], tokenize=False,
                                               add_generation_prompt=True)
    if len(text) > limits.max_chars:
        raise UsageError(f"the conversation is {len(text):,} characters; the limit is {limits.max_chars:,}")
    # The template writes its special tokens as text; tokenising without adding more keeps exactly those.
    return token_ids(model, list(model.tokenizer(text, add_special_tokens=False)["input_ids"]), limits)


def steering_vectors(model: LanguageModel, features: Sequence[SteerFeature], strength_multiplier: float,
                     limits: Limits = DEFAULT_LIMITS) -> dict[str, Tensor]:
    """The vector added at each hook point ([d_hook] each): the sum of its features' scaled directions."""
    check_count("the number of steered features", len(features), limits.max_steer_features)
    multiplier = check_finite("strength_multiplier", strength_multiplier, 0.0, 10.0)
    vectors: dict[str, Tensor] = {}
    for feature in features:
        index = check_feature(feature.source, feature.index)
        strength = check_finite(f"the strength of feature {feature.source.source_id}/{index}", feature.strength)
        if abs(strength * multiplier) > limits.max_strength:
            raise UsageError(f"strength x strength_multiplier of feature {feature.source.source_id}/{index} is "
                             f"{strength * multiplier:g}; the limit is ±{limits.max_strength:g}")
        direction = feature.source.decoder_directions()[index].detach().float()  # [d_hook]
        hook = feature.source.hook_name
        model.hook_point(hook)
        vectors[hook] = vectors.get(hook, torch.zeros_like(direction)) + multiplier * strength * direction
    return vectors


class _Steerer:
    """Hooks that add each hook's vector to the steered rows, at the positions allowed to be steered."""

    def __init__(self, vectors: dict[str, Tensor], rows: Tensor, special_ids: Tensor | None) -> None:
        self.vectors = vectors
        self.rows = rows  # [batch] bool
        self.special_ids = special_ids
        self.mask: Tensor | None = None  # [batch, pos, 1], set before each forward pass

    def on_inputs(self, input_ids: Tensor) -> None:
        mask = self.rows.to(input_ids.device)[:, None].expand(input_ids.shape)  # [batch, pos]
        if self.special_ids is not None:
            mask = mask & ~torch.isin(input_ids, self.special_ids.to(input_ids.device))
        self.mask = mask[..., None]

    def hook(self, name: str) -> HookFn:
        vector = self.vectors[name]

        def add(act: Tensor) -> Tensor:
            assert self.mask is not None, "on_inputs runs before every forward pass"
            return act + self.mask.to(act.dtype) * vector.to(act.device, act.dtype)

        return add

    def fwd_hooks(self) -> list[tuple[str, HookFn]]:
        return [(name, self.hook(name)) for name in self.vectors]


def _run(model: LanguageModel, steered_ids: list[int], default_ids: list[int], features: Sequence[SteerFeature],
         sampling: Sampling, multiplier: float, batch_default: bool, special_ids: Tensor | None,
         limits: Limits) -> SteerResult:
    sampling = sampling.checked(limits)
    vectors = steering_vectors(model, features, multiplier, limits)
    if batch_default and len(steered_ids) == len(default_ids):
        steerer = _Steerer(vectors, torch.tensor([True, False]), special_ids)
        steered, default = generate_rows(model, [steered_ids, default_ids], sampling, steerer.fwd_hooks(),
                                         steerer.on_inputs)
        return SteerResult(steered, default)
    steerer = _Steerer(vectors, torch.tensor([True]), special_ids)
    (steered,) = generate_rows(model, [steered_ids], sampling, steerer.fwd_hooks(), steerer.on_inputs)
    (default,) = generate_rows(model, [default_ids], sampling)
    return SteerResult(steered, default)
