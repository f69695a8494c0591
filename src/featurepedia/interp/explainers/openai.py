"""OpenAI-compatible explainer: any chat endpoint (OpenAI, vLLM, Ollama, llama.cpp server) writes it.

Same prompt as the local-LM explainer (token<TAB>activation records); tokens used and cost are kept in
``last_details`` after each call.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from featurepedia.interp.backends.openai_api import OpenAIChat, content
from featurepedia.interp.prompts import EXPLAIN_SYSTEM, clean_explanation, explain_user_prompt
from featurepedia.interp.records import ActivationRecord


class OpenAIExplainer:
    """Explains a feature with an OpenAI-compatible chat model."""

    name = "openai"
    version = "1"

    def __init__(self, max_records: int = 10, max_tokens: int = 64, max_new_tokens: int = 60, **client: Any):
        """Args:
            max_records / max_tokens: how many of the strongest records, and tokens of each, go in the prompt.
            max_new_tokens: answer length.
            client: OpenAIChat options (base_url, api_key, model, timeout, max_retries, backoff, prices).
        """
        self.client = OpenAIChat(**client)
        self.max_records, self.max_tokens, self.max_new_tokens = max_records, max_tokens, max_new_tokens
        self.last_details: dict[str, Any] = {"explainer": self.name, "version": self.version}

    @property
    def method(self) -> str:
        return f"llm:{self.client.model}"

    def explain(self, records: Sequence[ActivationRecord]) -> str:
        """An explanation; raises ScorerUnavailable when the endpoint cannot be used."""
        messages = [{"role": "system", "content": EXPLAIN_SYSTEM},
                    {"role": "user", "content": explain_user_prompt(records, self.max_records, self.max_tokens)}]
        self.client.reset_usage()
        raw = content(self.client.chat(messages, max_tokens=self.max_new_tokens))
        self.last_details = {"explainer": self.name, "version": self.version, **self.client.describe(),
                             "raw": raw, **self.client.reset_usage()}
        return clean_explanation(raw)
