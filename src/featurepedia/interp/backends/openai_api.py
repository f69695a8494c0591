"""A client for any OpenAI-compatible chat endpoint (OpenAI, vLLM, Ollama, llama.cpp server) over httpx.

Options default to the settings (featurepedia.settings): FEATUREPEDIA_OPENAI_BASE_URL (default
https://api.openai.com/v1), FEATUREPEDIA_OPENAI_API_KEY, FEATUREPEDIA_OPENAI_MODEL (default gpt-4o-mini), and
prices in USD per million tokens FEATUREPEDIA_OPENAI_PRICE_INPUT / _PRICE_OUTPUT (default 0: cost unknown).
Transient failures (connection errors, timeouts, 429, 5xx) are retried with exponential backoff; anything
else, or running out of retries, raises ScorerUnavailable with what happened and what to check.
"""

from __future__ import annotations

import time
from typing import Any

import httpx

from featurepedia.interp.errors import ScorerUnavailable
from featurepedia.settings import get_settings

DEFAULT_BASE_URL = "https://api.openai.com/v1"
DEFAULT_MODEL = "gpt-4o-mini"
RETRY_STATUS = {408, 409, 429, 500, 502, 503, 504}


class OpenAIChat:
    """Calls ``POST {base_url}/chat/completions`` and keeps a running token and cost count."""

    def __init__(self, base_url: str | None = None, api_key: str | None = None, model: str | None = None,
                 timeout: float = 30.0, max_retries: int = 3, backoff: float = 1.0,
                 price_input: float | None = None, price_output: float | None = None):
        """Args:
            base_url / api_key / model: the endpoint; None reads the FEATUREPEDIA_OPENAI_* variables.
            timeout: seconds per request (connect and read).
            max_retries: retries after the first attempt for transient failures.
            backoff: first retry delay in seconds; doubles each retry.
            price_input / price_output: USD per million prompt / completion tokens (for cost records).
        """
        settings = get_settings()
        self.base_url = (base_url or settings.openai_base_url or DEFAULT_BASE_URL).rstrip("/")
        self.api_key = api_key if api_key is not None else settings.openai_api_key
        self.model = model or settings.openai_model or DEFAULT_MODEL
        self.timeout, self.max_retries, self.backoff = timeout, max_retries, backoff
        self.price_input = settings.openai_price_input if price_input is None else price_input
        self.price_output = settings.openai_price_output if price_output is None else price_output
        self.usage = {"prompt_tokens": 0, "completion_tokens": 0, "requests": 0, "cost_usd": 0.0}

    def reset_usage(self) -> dict[str, Any]:
        """Return the usage so far and start counting again."""
        used, self.usage = self.usage, {"prompt_tokens": 0, "completion_tokens": 0, "requests": 0, "cost_usd": 0.0}
        return used

    def chat(self, messages: list[dict[str, str]], max_tokens: int = 64, temperature: float = 0.0,
             top_logprobs: int | None = None) -> dict[str, Any]:
        """One chat completion; returns the response JSON.

        Raises:
            ScorerUnavailable: the endpoint is down, timed out, refused the request or answered nonsense.
        """
        body: dict[str, Any] = {"model": self.model, "messages": messages, "max_tokens": max_tokens,
                                "temperature": temperature}
        if top_logprobs:
            body.update(logprobs=True, top_logprobs=top_logprobs)
        headers = {"Authorization": f"Bearer {self.api_key}"} if self.api_key else {}
        url = f"{self.base_url}/chat/completions"
        problem = ""
        for attempt in range(self.max_retries + 1):
            if attempt:
                time.sleep(self.backoff * 2 ** (attempt - 1))
            try:
                response = httpx.post(url, json=body, headers=headers, timeout=self.timeout)
            except httpx.TimeoutException:
                problem = f"timed out after {self.timeout:g} s"
                continue
            except httpx.HTTPError as err:
                problem = f"could not connect ({type(err).__name__}: {err})"
                continue
            if response.status_code in RETRY_STATUS:
                problem = f"answered HTTP {response.status_code}: {response.text[:200]}"
                continue
            if response.status_code >= 400:
                raise ScorerUnavailable(
                    f"the OpenAI-compatible endpoint {url} refused the request with HTTP {response.status_code}: "
                    f"{response.text[:300]} (check FEATUREPEDIA_OPENAI_API_KEY and FEATUREPEDIA_OPENAI_MODEL="
                    f"{self.model!r})"
                )
            return self._parse(response, url)
        raise ScorerUnavailable(
            f"the OpenAI-compatible endpoint {url} {problem} ({self.max_retries + 1} attempts); check that it is "
            "running and FEATUREPEDIA_OPENAI_BASE_URL points at it, or use a local scorer (e.g. 'embedding')"
        )

    def _parse(self, response: httpx.Response, url: str) -> dict[str, Any]:
        try:
            data = response.json()
            data["choices"][0]["message"]
        except (ValueError, KeyError, IndexError, TypeError):
            raise ScorerUnavailable(f"the endpoint {url} did not answer with a chat completion: "
                                    f"{response.text[:200]!r}") from None
        usage = data.get("usage") or {}
        prompt, completion = int(usage.get("prompt_tokens") or 0), int(usage.get("completion_tokens") or 0)
        self.usage["prompt_tokens"] += prompt
        self.usage["completion_tokens"] += completion
        self.usage["requests"] += 1
        self.usage["cost_usd"] += (prompt * self.price_input + completion * self.price_output) / 1e6
        return data

    def describe(self) -> dict[str, Any]:
        return {"backend": "openai", "base_url": self.base_url, "model": self.model}


def content(data: dict[str, Any]) -> str:
    """The text of a chat completion's first choice."""
    return str(data["choices"][0]["message"].get("content") or "")


def first_token_logprobs(data: dict[str, Any]) -> dict[str, float]:
    """Top log-probabilities of the first generated token ({} when the endpoint gave none)."""
    items = ((data["choices"][0].get("logprobs") or {}).get("content") or [])
    if not items:
        return {}
    return {str(t["token"]): float(t["logprob"]) for t in items[0].get("top_logprobs") or []}
