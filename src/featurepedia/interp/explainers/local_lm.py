"""Local-LM explainer: a local causal LM (default: embedded SmolLM2-135M-Instruct) writes the explanation.

The records go in OpenAI's token<TAB>activation format inside the model's chat template; generation is
short and greedy, so the same records always give the same explanation.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from featurepedia.interp.backends.local import DEFAULT_MODEL, LocalLM
from featurepedia.interp.prompts import (
    EXPLAIN_ANSWER_PREFIX,
    EXPLAIN_SHOTS,
    EXPLAIN_SYSTEM,
    clean_explanation,
    explain_user_prompt,
)
from featurepedia.interp.records import ActivationRecord
from featurepedia.lm import LanguageModel


class LocalLMExplainer:
    """Explains a feature with a local chat model."""

    name = "local-lm"
    version = "1"

    def __init__(self, model: LanguageModel | str = DEFAULT_MODEL, max_records: int = 5, max_tokens: int = 16,
                 max_new_tokens: int = 16, few_shot: bool = False):
        """Args:
            model: a loaded LanguageModel or a model id (loaded once per process).
            max_records / max_tokens: how many of the strongest records, and tokens of each, go in the prompt.
            max_new_tokens: generation length (explanations are one short phrase).
            few_shot: put one worked example before the records.
        """
        self.lm = LocalLM(model)
        self.max_records, self.max_tokens, self.max_new_tokens = max_records, max_tokens, max_new_tokens
        self.few_shot = few_shot
        self.last_details: dict[str, Any] = {"explainer": self.name, "version": self.version}

    @property
    def method(self) -> str:
        """What to store as the explanation's method, e.g. ``llm:smollm2-135m``."""
        return f"llm:{self.lm.model_id}"

    def explain(self, records: Sequence[ActivationRecord]) -> str:
        user = explain_user_prompt(records, self.max_records, self.max_tokens)
        # A worked example helps models of a few billion parameters; a 135M model just copies its answer.
        prompt = self.lm.chat(EXPLAIN_SYSTEM, user, EXPLAIN_SHOTS if self.few_shot else ())
        # Prefilling the answer keeps a small model on task: it only has to finish the phrase.
        prompt += EXPLAIN_ANSWER_PREFIX
        raw = self.lm.generate(prompt, self.max_new_tokens)
        self.last_details = {"explainer": self.name, "version": self.version, "model": self.lm.model_id,
                             "raw": raw, "cost_usd": 0.0}
        return clean_explanation(raw)
