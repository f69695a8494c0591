"""The inference client for a ``featurepedia inference`` process: JSON over HTTP with httpx.

It sends the query dataclasses as JSON to ``POST /v1/<operation>`` and decodes the answer into the same
result dataclasses the in-process client returns. The service's error shape ``{"ok": false, "error",
"status"}`` becomes the same exception the service raised in-process, chosen by status: 400 UsageError,
404 NotFoundError, 503 QueueFullError (with Retry-After) or UnavailableError, 504 InferenceTimeoutError.
"""

from __future__ import annotations

import json
from typing import Any

import httpx

from featurepedia.errors import FeaturepediaError, NotFoundError, UnavailableError, UsageError
from featurepedia.inference.client import TypedOperations
from featurepedia.inference.queries import (
    OPERATION_OF,
    Query,
)
from featurepedia.inference.service import InferenceTimeoutError, QueueFullError
from featurepedia.inference.wire import from_wire, to_wire


class HttpClient(TypedOperations):
    """Calls the inference service at ``url`` (e.g. ``http://127.0.0.1:3001``); safe to share between threads.

    Args:
        timeout_s: seconds to wait for an answer; make it longer than the service's own timeout so that
            its 504 (which says why) arrives first.
    """

    def __init__(self, url: str, *, timeout_s: float = 35.0, max_connections: int = 32) -> None:
        self.url = url.rstrip("/")
        self.timeout_s = timeout_s
        self._http = httpx.Client(base_url=self.url, timeout=httpx.Timeout(timeout_s, connect=5.0),
                                  limits=httpx.Limits(max_connections=max_connections), trust_env=False)

    def info(self) -> dict[str, Any]:
        payload = self._payload(self._send("GET", "/healthz"))
        return {"mode": "http", "url": self.url, "models": [payload["service"]]}

    def close(self) -> None:
        self._http.close()

    def _dispatch(self, query: Query) -> Any:
        operation = OPERATION_OF[type(query)]
        # Our own json.dumps, not httpx's (which refuses NaN): a NaN strength then gets the service's clear
        # "must be a finite number", exactly as in-process.
        body = json.dumps(to_wire(query), ensure_ascii=False).encode()
        payload = self._payload(self._send("POST", f"/v1/{operation.name}", body))
        try:
            return from_wire(operation.result, payload.get("result"), "answer")
        except UsageError as err:
            raise UnavailableError(f"the inference service at {self.url} sent an answer this client cannot read "
                                   f"({err}); are both running the same Featurepedia version?") from err

    def _send(self, method: str, path: str, body: bytes | None = None) -> httpx.Response:
        try:
            return self._http.request(method, path, content=body, headers={"Content-Type": "application/json"})
        except httpx.ConnectError as err:
            raise UnavailableError(
                f"cannot reach the inference service at {self.url} ({err}); start it there with "
                f"`featurepedia inference --port {self._port()} --model MODEL_ID`, or leave "
                "FEATUREPEDIA_INFERENCE_URL empty to run inference inside the web process") from err
        except httpx.TimeoutException as err:
            raise InferenceTimeoutError(f"the inference service at {self.url} did not answer within "
                                        f"{self.timeout_s:g} s; retry, or ask for less") from err
        except httpx.HTTPError as err:
            raise UnavailableError(f"the request to the inference service at {self.url} failed: {err}") from err

    def _payload(self, response: httpx.Response) -> dict[str, Any]:
        try:
            payload = response.json()
        except ValueError:
            payload = None
        if not isinstance(payload, dict) or "ok" not in payload:
            raise UnavailableError(f"{self.url} answered {response.status_code} without the inference service's "
                                   "JSON: is FEATUREPEDIA_INFERENCE_URL the address of `featurepedia inference`?")
        if payload["ok"]:
            return payload
        raise error_from(payload, response.headers.get("Retry-After"))

    def _port(self) -> int:
        port = httpx.URL(self.url).port
        return port if port is not None else 80


def error_from(payload: dict[str, Any], retry_after: str | None) -> FeaturepediaError:
    """The exception the service raised, from its error shape and Retry-After header."""
    message = str(payload.get("error") or "the inference service gave no reason")
    status = payload.get("status")
    status = status if isinstance(status, int) else 500
    if status == 503 and retry_after is not None and retry_after.isdigit():
        return QueueFullError(message, retry_after=int(retry_after))
    kinds: dict[int, type[FeaturepediaError]] = {404: NotFoundError, 503: UnavailableError,
                                                 504: InferenceTimeoutError}
    if status in kinds:
        return kinds[status](message)
    if 400 <= status < 500:
        return UsageError(message, status=status)
    return FeaturepediaError(message, status=status)
