"""Neuronpedia-compatible steering: ``POST /api/steer`` (a prompt) and ``POST /api/steer-chat`` (messages).

What ``neuronpedia``'s ``SteerCompletionRequest`` and ``SteerChatRequest`` call. Each feature adds
``strength_multiplier * strength * direction`` at its hook at every position (docs/inference.md); the
default text comes from the same seed. Nothing is stored: ``id`` is a digest of the settings and
``shareUrl`` the steering page with the settings in its address.
"""

from __future__ import annotations

import hashlib
import json
from urllib.parse import urlencode

from django.http import HttpRequest
from ninja import Field, Router

from featurepedia.errors import UsageError
from featurepedia.inference.generation import Generation, Sampling
from featurepedia.inference.queries import SteerChatQuery, SteeredFeature, SteerQuery
from featurepedia.inference.steering import SteerResult
from featurepedia.web.api.live import LiveBody, clean_text, feature_index, inference
from featurepedia.web.api.live_schemas import Steered, SteeredChat
from featurepedia.web.api.lookup import get_model, get_source

router = Router(tags=["Neuronpedia-compatible"])

METHOD = "SIMPLE_ADDITIVE"  # the only steering method here (Neuronpedia also has ORTHOGONAL_DECOMP)


class SteerFeatureIn(LiveBody):
    modelId: str | None = Field(None, description="must be the request's modelId when given")
    layer: str | None = Field(None, description="the source id, e.g. `6-mlp`")
    source: str | None = Field(None, description="another name for `layer`")
    index: int | str
    strength: float


class ChatMessage(LiveBody):
    role: str
    content: str


class SteerSettings(LiveBody):
    modelId: str
    features: list[SteerFeatureIn] = Field(min_length=1)
    temperature: float = Field(0.5, ge=0, le=2)
    n_tokens: int = Field(32, ge=1, le=256)
    seed: int = Field(16, ge=-(2**63), le=2**64 - 1, description="the range torch's generators take")
    strength_multiplier: float = Field(1.0, ge=0, le=10)
    freq_penalty: float = Field(0.0, ge=-2, le=2)
    steer_method: str | None = Field(None, description=f"only {METHOD} (the default)")
    n_logprobs: int = Field(0, ge=0, le=20, description="ours: alternatives listed per generated token (0: "
                                                        "no logprobs)")


class SteerBody(SteerSettings):
    prompt: str


class SteerChatBody(SteerSettings):
    defaultChatMessages: list[ChatMessage] = Field(min_length=1)
    steeredChatMessages: list[ChatMessage] = Field(min_length=1)
    steer_special_tokens: bool = True


@router.post("/steer", response=Steered, summary="Generate with features steered",
             description="The steered and the default continuation of `prompt` (`STEERED` and `DEFAULT` hold "
                         "prompt plus continuation), with per-token logprobs when `n_logprobs` > 0.")
def steer(request: HttpRequest, body: SteerBody) -> dict[str, object]:
    features = _features(body)
    query = SteerQuery(body.modelId, clean_text(body.prompt, "prompt"), features, _sampling(body),
                       body.strength_multiplier)
    result = inference().steer(query)
    return {"STEERED": result.steered.full_text, "DEFAULT": result.default.full_text,
            **_common(request, body, body.prompt, features, result)}


@router.post("/steer-chat", response=SteeredChat, summary="Chat with features steered",
             description="The steered reply to `steeredChatMessages` and the default reply to "
                         "`defaultChatMessages`, through the model's chat template; `steer_special_tokens` false "
                         "leaves the template's special tokens unsteered.")
def steer_chat(request: HttpRequest, body: SteerChatBody) -> dict[str, object]:
    features = _features(body)
    steered, default = _messages(body.steeredChatMessages), _messages(body.defaultChatMessages)
    result = inference().steer_chat(SteerChatQuery(
        body.modelId, steered, features, default_messages=default, steer_special_tokens=body.steer_special_tokens,
        sampling=_sampling(body), strength_multiplier=body.strength_multiplier))
    last = next((m["content"] for m in reversed(steered) if m["role"] == "user"), steered[-1]["content"])
    return {"STEERED": _chat(steered, result.steered), "DEFAULT": _chat(default, result.default),
            **_common(request, body, last, features, result)}


def _features(body: SteerSettings) -> list[SteeredFeature]:
    method = (body.steer_method or METHOD).upper()
    if method != METHOD:
        raise UsageError(f"steer_method {body.steer_method!r} is not supported here; use {METHOD} (or leave it out)")
    get_model(body.modelId)
    out = []
    for i, f in enumerate(body.features):
        if f.modelId is not None and f.modelId != body.modelId:
            raise UsageError(f"features[{i}] is of model {f.modelId!r}, but the request steers {body.modelId!r}; "
                             "steer features of one model at a time")
        name = f.layer or f.source
        if not name:
            raise UsageError(f"features[{i}] names no source; give `layer` (the source id, e.g. 6-mlp)")
        src = get_source(body.modelId, name)
        out.append(SteeredFeature(src.slug, feature_index(src, f.index), f.strength))
    return out


def _sampling(body: SteerSettings) -> Sampling:
    return Sampling(n_tokens=body.n_tokens, temperature=body.temperature, seed=body.seed,
                    freq_penalty=body.freq_penalty, top_logprobs=body.n_logprobs)


def _messages(messages: list[ChatMessage]) -> list[dict[str, str]]:
    return [{"role": m.role, "content": clean_text(m.content, f"chat message {i}")} for i, m in enumerate(messages)]


def _chat(messages: list[dict[str, str]], generation: Generation) -> dict[str, object]:
    """Neuronpedia's chat result: the conversation with the reply appended, and the whole text."""
    return {"chat_template": [*messages, {"role": "assistant", "content": generation.text}],
            "raw": generation.full_text}


def _common(request: HttpRequest, body: SteerSettings, prompt: str, features: list[SteeredFeature],
            result: SteerResult) -> dict[str, object]:
    settings = body.model_dump(mode="json")
    digest = hashlib.sha256(json.dumps(settings, sort_keys=True).encode()).hexdigest()[:16]
    return {"steeredLogProbs": _logprobs(result.steered), "defaultLogProbs": _logprobs(result.default),
            "id": digest, "shareUrl": request.build_absolute_uri(share_path(body, prompt, features))}


def share_path(body: SteerSettings, prompt: str, features: list[SteeredFeature]) -> str:
    """The steering page with these settings: ``features`` as ``source:index:strength``, comma-separated."""
    query = {"model": body.modelId, "prompt": prompt,
             "features": ",".join(f"{f.source}:{f.index}:{f.strength:g}" for f in features),
             "temperature": f"{body.temperature:g}", "n_tokens": body.n_tokens, "seed": body.seed,
             "strength_multiplier": f"{body.strength_multiplier:g}", "freq_penalty": f"{body.freq_penalty:g}"}
    return "/steer/?" + urlencode(query)


def _logprobs(generation: Generation) -> list[dict[str, object]] | None:
    if generation.logprobs is None:
        return None
    return [{"token": t.token, "tokenId": t.token_id, "logprob": t.logprob,
             "topLogprobs": [{"token": a.token, "tokenId": a.token_id, "logprob": a.logprob} for a in t.top]}
            for t in generation.logprobs]
