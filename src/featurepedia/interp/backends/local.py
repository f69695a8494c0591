"""A local causal LM as explainer and judge: greedy chat generation and next-token probabilities.

Judging many texts against one instruction re-uses the instruction's key/value cache (computed once per
explanation), and reads only the logits of the few candidate tokens (never the full vocabulary).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from featurepedia.errors import FeaturepediaError
from featurepedia.interp.errors import RecordError, ScorerUnavailable
from featurepedia.lm import LanguageModel, get_model
from featurepedia.settings import DEFAULT_MODEL_ID

DEFAULT_MODEL = DEFAULT_MODEL_ID


def shared_model(model: LanguageModel | str = DEFAULT_MODEL) -> LanguageModel:
    """A LanguageModel as given, or the process's pooled copy of the model with that id."""
    if isinstance(model, LanguageModel):
        return model
    try:
        return get_model(model)
    except FeaturepediaError as err:  # an unknown id too: to a scorer, its model is not there
        raise ScorerUnavailable(f"the local model of an explainer or scorer is unavailable: {err}") from err


class LocalLM:
    """Prompts a local causal LM (default: the embedded SmolLM2-135M-Instruct)."""

    def __init__(self, model: LanguageModel | str = DEFAULT_MODEL):
        self._model_arg = model
        self._model: LanguageModel | None = None

    @property
    def model(self) -> LanguageModel:
        if self._model is None:  # loaded on first use, so building a scorer is free
            self._model = shared_model(self._model_arg)
        return self._model

    @property
    def model_id(self) -> str:
        return self._model_arg if isinstance(self._model_arg, str) else self._model_arg.model_id

    @property
    def max_positions(self) -> int | None:
        """The longest input a model with learned position embeddings takes (GPT-2: n_positions), else None.

        Rotary models (Llama, SmolLM2) run past their trained length, only less well, so they are not capped.
        """
        n = getattr(self.model.hf.config, "n_positions", None)
        return int(n) if n else None

    def chat(self, system: str, user: str, shots: Sequence[tuple[str, str]] = ()) -> str:
        """The prompt text of a chat (optional example turns, then ``user``), ready for the answer."""
        tok = self.model.tokenizer
        messages = [{"role": "system", "content": system}]
        for question, answer in shots:
            messages += [{"role": "user", "content": question}, {"role": "assistant", "content": answer}]
        messages.append({"role": "user", "content": user})
        if getattr(tok, "chat_template", None):
            return str(tok.apply_chat_template(messages, tokenize=False, add_generation_prompt=True))
        turns = "\n\n".join(m["content"] for m in messages)  # base models without a template: plain text
        return f"{turns}\n\n"

    def encode(self, text: str) -> list[int]:
        return list(self.model.tokenizer(text, add_special_tokens=False)["input_ids"])

    @torch.inference_mode()
    def generate(self, prompt: str, max_new_tokens: int = 40) -> str:
        """Greedy (deterministic) continuation of ``prompt``, special tokens removed."""
        tok = self.model.tokenizer
        ids = torch.tensor([self.encode(prompt)])  # [1, pos]
        out = self.model.hf.generate(
            input_ids=ids, attention_mask=torch.ones_like(ids), max_new_tokens=max_new_tokens, do_sample=False,
            pad_token_id=tok.pad_token_id if tok.pad_token_id is not None else tok.eos_token_id,
        )
        return str(tok.decode(out[0, ids.shape[1]:], skip_special_tokens=True))

    def candidate_ids(self, texts: Sequence[str]) -> list[int]:
        """The first token id of each candidate text (e.g. "Yes"); raises if two candidates share it."""
        ids = [self.encode(text)[0] for text in texts]
        if len(set(ids)) != len(ids):
            raise ValueError(f"candidates {list(texts)} do not start with distinct tokens in {self.model_id}")
        return ids

    @torch.inference_mode()
    def candidate_logprobs(self, prefix: Sequence[int], suffixes: Sequence[Sequence[int]],
                           positions: Sequence[Sequence[int]], candidates: Sequence[int]) -> list[np.ndarray]:
        """Log-probabilities of candidate next tokens, normalised over the candidates.

        Args:
            prefix: token ids shared by every text (encoded once).
            suffixes: per text, the token ids that follow the prefix.
            positions: per text, indices into its suffix whose next-token prediction is read.
            candidates: the candidate token ids.
        Returns:
            Per text, a [len(positions), len(candidates)] array.
        """
        hf = self.model.hf
        base = hf.base_model  # the transformer without its LM head: we only need a few logit rows
        head = hf.get_output_embeddings()
        w = head.weight[list(candidates)].float()  # [n_cand, d_model]
        bias = head.bias[list(candidates)].float() if getattr(head, "bias", None) is not None else None
        from transformers import DynamicCache

        limit = self.max_positions
        longest = len(prefix) + max((len(s) for s in suffixes), default=0)
        if limit and longest > limit:
            raise RecordError(
                f"the prompt is {longest:,} tokens; {self.model_id} takes at most {limit:,}. Give fewer or shorter "
                "records (e.g. the scorer's max_tokens_per_record option)"
            )
        cache = DynamicCache()
        if prefix:
            base(input_ids=torch.tensor([list(prefix)]), cache=cache, use_cache=True)
        out = []
        for suffix, pos in zip(suffixes, positions, strict=True):
            hidden = base(input_ids=torch.tensor([list(suffix)]), cache=cache,
                          use_cache=True).last_hidden_state[0]  # [len(suffix), d_model]
            cache.crop(-len(suffix))  # back to the shared prefix for the next text
            logits = hidden[list(pos)].float() @ w.T  # [n_pos, n_cand]
            if bias is not None:
                logits = logits + bias
            out.append(torch.log_softmax(logits, dim=-1).numpy())
        return out

    def describe(self) -> dict[str, Any]:
        return {"backend": "local", "model": self.model_id}
