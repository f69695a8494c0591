"""Simulation scorer (Bills et al. 2023, "all at once"): a simulator LM predicts every token's activation.

The prompt shows the explanation, then the record as ``token<TAB>unknown`` lines; at each tab the
simulator's probabilities of the digit tokens give an expected activation. The score is the Pearson
correlation of predictions and true activations pooled over all tokens of all records (activating and
non-activating); a constant prediction or NaN gives 0.

Local models use the digits 0..9 (SmolLM2 spells "10" as two tokens); OpenAI-compatible endpoints are
asked to fill in 0..10 and their answer is parsed (expected values where the endpoint returns logprobs).
"""

from __future__ import annotations

import re
import time
from collections.abc import Sequence
from typing import Any

import numpy as np

from featurepedia.interp.backends.local import DEFAULT_MODEL, LocalLM
from featurepedia.interp.backends.openai_api import OpenAIChat, content
from featurepedia.interp.base import ScoreResult
from featurepedia.interp.metrics import pearson_or_zero
from featurepedia.interp.prompts import clean_token
from featurepedia.interp.records import ActivationRecord, require_both_kinds, validate_explanation
from featurepedia.lm import LanguageModel

HEADER = (
    "We're studying neurons in a neural network. Each neuron looks for some particular thing in a short "
    "document. Look at an explanation of what the neuron does, and try to predict its activations on each "
    "token.\n\nThe activation format is token<tab>activation, activations go from 0 to {top}, \"unknown\" "
    "indicates an unknown activation. Most activations will be 0.\n\n"
)
SHOT = (
    "Neuron 1\nExplanation of neuron 1 behavior: the main thing this neuron does is find names of animals.\n"
    "Activations:\n<start>\n She\t0\n fed\t0\n the\t0\n cat\t{top}\n and\t0\n the\t0\n dog\t{top}\n.\t0\n<end>\n\n"
)
TARGET = "Neuron 2\nExplanation of neuron 2 behavior: the main thing this neuron does is find {explanation}\n" \
         "Activations:\n<start>\n"


class SimulationScorer:
    """Correlation between simulated and true activations."""

    name = "simulation"
    version = "1"
    uses_llm = True

    def __init__(self, backend: str = "local", model: LanguageModel | str = DEFAULT_MODEL,
                 max_tokens_per_record: int = 64, **client: Any):
        """Args:
            backend: ``local`` (a causal LM in this process) or ``openai`` (an OpenAI-compatible endpoint).
            model: the local simulator, a LanguageModel or model id (backend ``local``).
            max_tokens_per_record: longer records are cut (around their peak) to bound the cost.
            client: OpenAIChat options (backend ``openai``).
        """
        if backend not in ("local", "openai"):
            raise ValueError(f"unknown backend {backend!r}; use 'local' or 'openai'")
        self.backend = backend
        self.lm = LocalLM(model) if backend == "local" else None
        self.client = OpenAIChat(**client) if backend == "openai" else None
        self.max_tokens_per_record = max_tokens_per_record

    def score(self, explanation: str, records: Sequence[ActivationRecord]) -> ScoreResult:
        text = validate_explanation(explanation)
        require_both_kinds(records, self.name)
        start = time.perf_counter()
        cut = [_cut(r, self.max_tokens_per_record) for r in records]
        if self.lm is not None:
            predictions, extra = self._simulate_local(text, cut), {"model": self.lm.model_id, "cost_usd": 0.0}
        else:
            assert self.client is not None
            self.client.reset_usage()
            predictions = [self._simulate_openai(text, r) for r in cut]
            extra = {**self.client.describe(), **self.client.reset_usage()}
        truth = np.concatenate([np.clip(np.asarray(r.values, dtype=np.float64), 0, None) for r in cut])
        value = pearson_or_zero(np.concatenate([np.asarray(p) for p in predictions]), truth)
        details = {"scorer": self.name, "version": self.version, "backend": self.backend, **extra,
                   "predictions": [[round(float(v), 3) for v in p] for p in predictions],
                   "seconds": round(time.perf_counter() - start, 3)}
        return ScoreResult(value, details)

    def _simulate_local(self, explanation: str, records: Sequence[ActivationRecord]) -> list[np.ndarray]:
        assert self.lm is not None
        top = 9
        prefix = self.lm.encode(HEADER.format(top=top) + SHOT.format(top=top) + TARGET.format(explanation=explanation))
        tab, unknown, newline = self.lm.encode("\t"), self.lm.encode("unknown"), self.lm.encode("\n")
        digits = self.lm.candidate_ids([str(d) for d in range(top + 1)])
        suffixes, positions = [], []
        for record in records:
            ids: list[int] = []
            pos = []
            for tok in record.tokens:
                ids += self.lm.encode(clean_token(tok) or " ") + tab
                pos.append(len(ids) - 1)  # the tab: its next-token distribution is the predicted value
                ids += unknown + newline
            suffixes.append(ids)
            positions.append(pos)
        logprobs = self.lm.candidate_logprobs(prefix, suffixes, positions, digits)  # [n_tok, 10] each
        scale = np.arange(top + 1, dtype=np.float64)
        return [np.exp(lp) @ scale for lp in logprobs]

    def _simulate_openai(self, explanation: str, record: ActivationRecord) -> np.ndarray:
        assert self.client is not None
        lines = "\n".join(f"{clean_token(t)}\tunknown" for t in record.tokens)
        prompt = (HEADER.format(top=10) + SHOT.format(top=10) + TARGET.format(explanation=explanation) + lines
                  + "\n<end>\n\nRewrite the Neuron 2 activations, replacing each \"unknown\" with your predicted "
                  "activation (0-10). Answer with the lines only.")
        data = self.client.chat([{"role": "user", "content": prompt}], max_tokens=8 * len(record.tokens) + 16)
        return _parse_values(content(data), len(record.tokens))


def _cut(record: ActivationRecord, n: int) -> ActivationRecord:
    if len(record.tokens) <= n:
        return record
    lo = max(0, min(record.argmax - n // 2, len(record.tokens) - n))
    return ActivationRecord(record.tokens[lo: lo + n], record.values[lo: lo + n])


def _parse_values(answer: str, n: int) -> np.ndarray:
    """The number after the last tab of each answer line, in order; missing or unreadable lines -> 0."""
    values = []
    for line in answer.splitlines():
        match = re.search(r"\t\s*(\d+(?:\.\d+)?)\s*$", line)
        if match:
            values.append(min(10.0, float(match.group(1))))
    values = (values + [0.0] * n)[:n]
    return np.asarray(values, dtype=np.float64)
