"""Shared machinery of the yes/no judge scorers (detection, fuzzing): an LM answers "Yes" or "No" per text.

Local models: the probability of "Yes" vs "No" as the first answer token (the chat prompt up to the text
is encoded once per explanation). OpenAI-compatible endpoints: one short completion per text, using the
first token's logprobs when returned, else the answer's text.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from typing import Any

import numpy as np

from featurepedia.interp.backends.local import DEFAULT_MODEL, LocalLM
from featurepedia.interp.backends.openai_api import OpenAIChat, content, first_token_logprobs
from featurepedia.interp.base import ScoreResult
from featurepedia.interp.metrics import auroc, balanced_accuracy
from featurepedia.lm import LanguageModel

JUDGE_SYSTEM = "You are a careful judge. Answer with Yes or No only."
_SLOT = "\x00"  # where the text goes in the user message


class YesNoJudge:
    """Asks a local LM or an OpenAI-compatible endpoint a yes/no question about each text."""

    def __init__(self, backend: str = "local", model: LanguageModel | str = DEFAULT_MODEL, **client: Any):
        if backend not in ("local", "openai"):
            raise ValueError(f"unknown backend {backend!r}; use 'local' or 'openai'")
        self.backend = backend
        self.lm = LocalLM(model) if backend == "local" else None
        self.client = OpenAIChat(**client) if backend == "openai" else None

    def p_yes(self, question: str, texts: Sequence[str]) -> tuple[list[float], dict[str, Any]]:
        """P(Yes) for each text put in ``question``'s ``{text}`` slot, and backend details (model, usage)."""
        if self.lm is not None:
            prompt = self.lm.chat(JUDGE_SYSTEM, question.format(text=_SLOT))
            head, tail = prompt.split(_SLOT)
            suffixes = [self.lm.encode(t) + self.lm.encode(tail) for t in texts]
            cands = self.lm.candidate_ids(["Yes", "No"])
            lps = self.lm.candidate_logprobs(self.lm.encode(head), suffixes, [[len(s) - 1] for s in suffixes], cands)
            return [float(np.exp(lp[0, 0])) for lp in lps], {"model": self.lm.model_id, "cost_usd": 0.0}
        assert self.client is not None
        self.client.reset_usage()
        probs = []
        for text in texts:
            messages = [{"role": "system", "content": JUDGE_SYSTEM},
                        {"role": "user", "content": question.format(text=text)}]
            data = self.client.chat(messages, max_tokens=1, top_logprobs=5)
            probs.append(_p_yes_from(data))
        return probs, {**self.client.describe(), **self.client.reset_usage()}


def _p_yes_from(data: dict[str, Any]) -> float:
    top = first_token_logprobs(data)
    yes = sum(math.exp(lp) for tok, lp in top.items() if tok.strip().lower() == "yes")
    no = sum(math.exp(lp) for tok, lp in top.items() if tok.strip().lower() == "no")
    if yes + no > 0:
        return yes / (yes + no)
    return 1.0 if content(data).strip().lower().startswith("yes") else 0.0


def judged_result(scorer: Any, labels: Sequence[bool], p_yes: Sequence[float], extra: dict[str, Any],
                  start: float, **more: Any) -> ScoreResult:
    """A ScoreResult with balanced accuracy of P(Yes) > 0.5 and the usual details."""
    predictions = [p > 0.5 for p in p_yes]
    details = {"scorer": scorer.name, "version": scorer.version, "backend": scorer.judge.backend, **extra,
               "predictions": [round(p, 4) for p in p_yes], "labels": [int(y) for y in labels],
               "auroc": auroc(labels, p_yes), "seconds": round(time.perf_counter() - start, 3), **more}
    return ScoreResult(balanced_accuracy(labels, predictions), details)
