"""Token-by-token generation with a KV cache, seeded sampling, a frequency penalty and logprobs.

Definitions:

- **temperature** 0 takes the most likely token (greedy); above 0 samples from ``softmax(logits / T)``.
- **seed**: every row has its own generator seeded with the seed, so a row samples the same tokens
  whether it runs alone or beside another (steered and default run as one batch of 2).
- **frequency penalty**, as OpenAI defines it: before choosing each token, ``logit[t] -= penalty * c[t]``
  where ``c[t]`` counts token ``t`` among the tokens generated so far (the prompt is not counted).
- **logprobs**: ``log_softmax`` of the logits after the frequency penalty and before the temperature
  (the model's own distribution, not one that depends on how it was sampled); for each generated token,
  its logprob and the ``top_logprobs`` most likely tokens with theirs.

With a cache, the prompt runs once (prefill, every prompt position through every hook) and each new token
then runs alone: a hook sees every position exactly once, the prompt's during prefill.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
from torch import Tensor

from featurepedia.errors import UsageError
from featurepedia.inference.inputs import model_device
from featurepedia.inference.limits import DEFAULT_LIMITS, Limits, check_count, check_finite
from featurepedia.lm.model import HookFn, LanguageModel


@dataclass(frozen=True)
class Sampling:
    """How to generate (ranges as Neuronpedia's steering API has them)."""

    n_tokens: int = 32
    temperature: float = 0.0  # 0..2; 0 = greedy
    seed: int = 16
    freq_penalty: float = 0.0  # -2..2
    top_logprobs: int = 0  # alternatives listed per token; 0 = no logprobs
    stop_at_eos: bool = True

    def checked(self, limits: Limits = DEFAULT_LIMITS) -> Sampling:
        check_count("n_tokens", self.n_tokens, limits.max_new_tokens)
        check_finite("temperature", self.temperature, 0.0, 2.0)
        check_finite("freq_penalty", self.freq_penalty, -2.0, 2.0)
        check_count("top_logprobs", self.top_logprobs, 20, at_least=0)
        if isinstance(self.seed, bool) or not isinstance(self.seed, int):
            raise UsageError(f"seed must be an integer; got {self.seed!r}")
        return self


DEFAULT_SAMPLING = Sampling()


@dataclass(frozen=True)
class TopLogprob:
    token: str
    token_id: int
    logprob: float


@dataclass(frozen=True)
class TokenLogprob:
    """A generated token, its logprob and the most likely alternatives at that step (highest first)."""

    token: str
    token_id: int
    logprob: float
    top: list[TopLogprob]


@dataclass(frozen=True)
class Generation:
    """One generated continuation.

    Attributes:
        prompt_ids: the prompt as run (BOS or chat template included).
        token_ids: the generated tokens (the end-of-text token included when it stopped there).
        text: the generated text, special tokens left out; full_text: prompt and generated text so.
        logprobs: one per generated token, when asked for.
    """

    prompt_ids: list[int]
    token_ids: list[int]
    text: str
    full_text: str
    logprobs: list[TokenLogprob] | None


def context_window(model: LanguageModel) -> int | None:
    """The most positions the model takes (GPT-2's n_positions, Llama's max_position_embeddings), if known."""
    config = model.hf.config
    for name in ("n_positions", "max_position_embeddings"):
        n = getattr(config, name, None)
        if isinstance(n, int) and n > 0:
            return n
    return None


def check_context_window(model: LanguageModel, n_prompt: int, n_new: int) -> None:
    """Refuse a generation that would run past the model's positions (GPT-2 would index past its
    position embeddings; rotary models would run where they were never trained)."""
    window = context_window(model)
    if window is not None and n_prompt + n_new > window:
        raise UsageError(f"the prompt is {n_prompt:,} tokens and n_tokens is {n_new:,}, but {model.model_id} "
                         f"has a context of {window:,} positions; shorten the prompt or ask for at most "
                         f"{max(window - n_prompt, 0):,} new tokens")


# Called with each forward pass's input ids ([batch, pos]) before it runs: steering hooks use it to know
# which tokens (special or not) their positions hold.
OnInputs = Callable[[Tensor], None]


@torch.inference_mode()
def generate_rows(model: LanguageModel, prompts: Sequence[Sequence[int]], sampling: Sampling,
                  fwd_hooks: Sequence[tuple[str, HookFn]] = (), on_inputs: OnInputs | None = None) -> list[Generation]:
    """Generate from prompts of equal length as one batch (no padding needed), each row seeded alike."""
    if len({len(p) for p in prompts}) != 1:
        raise ValueError("generate_rows needs prompts of one length; run other lengths separately")
    check_context_window(model, len(prompts[0]), sampling.n_tokens)
    device = model_device(model)
    rows = len(prompts)
    inputs = torch.tensor([list(p) for p in prompts], dtype=torch.long, device=device)  # [rows, prompt]
    generators = [torch.Generator(device=device).manual_seed(sampling.seed) for _ in range(rows)]
    counts = torch.zeros((rows, model.vocab_size), device=device)  # [rows, vocab]
    eos = model.tokenizer.eos_token_id if sampling.stop_at_eos else None
    chosen: list[list[int]] = [[] for _ in range(rows)]
    logprobs: list[list[TokenLogprob]] = [[] for _ in range(rows)]
    done = [False] * rows
    cache_arg, extra = _forward_kwargs(model)
    past = None
    with model.hooks(fwd_hooks):
        for _step in range(sampling.n_tokens):
            if on_inputs is not None:
                on_inputs(inputs)
            out = model.hf(input_ids=inputs, use_cache=True, **{cache_arg: past}, **extra)
            past = getattr(out, cache_arg)
            logits = out.logits[:, -1, :].float() - sampling.freq_penalty * counts  # [rows, vocab]
            if not torch.isfinite(logits).all():
                raise UsageError("the model's output is not finite (inf or NaN) with these settings; "
                                 "use a smaller steering strength or strength_multiplier")
            picked = _choose(logits, sampling.temperature, generators)  # [rows]
            if sampling.top_logprobs:
                log_p = torch.log_softmax(logits, dim=-1)
                for r in range(rows):
                    if not done[r]:
                        logprobs[r].append(_token_logprob(model, log_p[r], int(picked[r]), sampling.top_logprobs))
            for r, token in enumerate(picked.tolist()):
                if not done[r]:
                    chosen[r].append(token)
                    done[r] = token == eos
            if all(done):
                break
            counts[torch.arange(rows, device=device), picked] += 1
            inputs = picked[:, None]
    return [_generation(model, list(p), ids, logprobs[r] if sampling.top_logprobs else None)
            for r, (p, ids) in enumerate(zip(prompts, chosen, strict=True))]


def _forward_kwargs(model: LanguageModel) -> tuple[str, dict[str, int]]:
    """The KV cache's argument name (transformers 5.2x renamed ``past_key_values`` to ``cache``; the output
    field follows it), and ``logits_to_keep=1`` where supported: the prefill then unembeds only the last
    position instead of the whole prompt."""
    params = inspect.signature(model.hf.forward).parameters
    cache_arg = "cache" if "cache" in params else "past_key_values"
    return cache_arg, ({"logits_to_keep": 1} if "logits_to_keep" in params else {})


def _choose(logits: Tensor, temperature: float, generators: list[torch.Generator]) -> Tensor:
    """[rows] the next token of each row: argmax at temperature 0, else a seeded sample."""
    if temperature == 0:
        return logits.argmax(dim=-1)
    probs = torch.softmax(logits / temperature, dim=-1)
    return torch.cat([torch.multinomial(probs[r], 1, generator=g) for r, g in enumerate(generators)])


def _token_logprob(model: LanguageModel, log_p: Tensor, token: int, k: int) -> TokenLogprob:
    values, ids = log_p.topk(k)
    top = [TopLogprob(model.token_text(i), i, v) for v, i in zip(values.tolist(), ids.tolist(), strict=True)]
    return TokenLogprob(model.token_text(token), token, float(log_p[token]), top)


def _generation(model: LanguageModel, prompt: list[int], ids: list[int],
                logprobs: list[TokenLogprob] | None) -> Generation:
    decode = model.tokenizer.decode
    return Generation(prompt, ids, decode(ids, skip_special_tokens=True),
                      decode(prompt + ids, skip_special_tokens=True), logprobs)
