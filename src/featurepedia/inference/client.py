"""How the web layer asks for inference: one protocol, an in-process and an HTTP implementation.

``get_client(settings)`` picks one: with ``FEATUREPEDIA_INFERENCE_URL`` empty (embedded mode) a
:class:`LocalClient` runs the models inside the web process; with a URL an
:class:`~featurepedia.inference.http_client.HttpClient` calls a ``featurepedia inference`` process there.
Both take the query dataclasses of ``inference.queries`` and return the same result dataclasses, and both
raise the same errors (``UsageError`` 400, ``NotFoundError`` 404, ``QueueFullError`` 503 with
``retry_after``, ``UnavailableError`` 503, ``InferenceTimeoutError`` 504).
"""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import Any, Protocol, cast

from featurepedia.errors import NotFoundError
from featurepedia.inference.activations import TextActivations
from featurepedia.inference.attribution import Attribution
from featurepedia.inference.limits import DEFAULT_LIMITS, Limits
from featurepedia.inference.operations import SourcePath, neurons_only
from featurepedia.inference.queries import (
    ActivationsQuery,
    AttributionQuery,
    Query,
    SteerChatQuery,
    SteerQuery,
    TopFeaturesQuery,
    TopKQuery,
)
from featurepedia.inference.service import InferenceService
from featurepedia.inference.steering import SteerResult
from featurepedia.inference.top_features import TopFeatures, TopKByToken
from featurepedia.settings import Settings


class InferenceClient(Protocol):
    """The inference operations the API and the pages use (docs/inference.md)."""

    def activations(self, query: ActivationsQuery) -> list[TextActivations]:
        """One result per text, each with the requested features' per-token values."""
        ...

    def top_features(self, query: TopFeaturesQuery) -> TopFeatures: ...

    def topk_by_token(self, query: TopKQuery) -> TopKByToken: ...

    def attribution(self, query: AttributionQuery) -> Attribution: ...

    def steer(self, query: SteerQuery) -> SteerResult: ...

    def steer_chat(self, query: SteerChatQuery) -> SteerResult: ...

    def info(self) -> dict[str, Any]:
        """What is served and how busy it is (JSON values)."""
        ...

    def close(self) -> None: ...


def registered_models(model_id: str) -> bool:
    """The default model allowlist: registered ids only, never a hub id or a folder named in a request."""
    from featurepedia.lm.registry import list_models

    return model_id in list_models()


class TypedOperations(ABC):
    """The typed operations of :class:`InferenceClient` over one untyped ``_dispatch(query)``, which each
    implementation provides (in-process: the service runs the query; HTTP: the inference process does)."""

    @abstractmethod
    def _dispatch(self, query: Query) -> Any:
        """Run ``query`` and return its result dataclass."""

    def activations(self, query: ActivationsQuery) -> list[TextActivations]:
        return list(self._dispatch(query))

    def top_features(self, query: TopFeaturesQuery) -> TopFeatures:
        return cast(TopFeatures, self._dispatch(query))

    def topk_by_token(self, query: TopKQuery) -> TopKByToken:
        return cast(TopKByToken, self._dispatch(query))

    def attribution(self, query: AttributionQuery) -> Attribution:
        return cast(Attribution, self._dispatch(query))

    def steer(self, query: SteerQuery) -> SteerResult:
        return cast(SteerResult, self._dispatch(query))

    def steer_chat(self, query: SteerChatQuery) -> SteerResult:
        return cast(SteerResult, self._dispatch(query))


class LocalClient(TypedOperations):
    """In-process inference: one :class:`InferenceService` (model and worker thread) per model, started on
    the first request for it.

    Args:
        allow_model: which model ids may be loaded (e.g. the models in the database); the default allows
            the registered ids.
        source_path, limits, queue_size, timeout_s, batch_tokens: passed to each service.
    """

    def __init__(self, *, source_path: SourcePath = neurons_only, allow_model: Callable[[str], bool] = registered_models,
                 limits: Limits = DEFAULT_LIMITS, queue_size: int = 32, timeout_s: float = 30.0,
                 batch_tokens: int = 4096) -> None:
        self.allow_model = allow_model
        self._options: dict[str, Any] = dict(source_path=source_path, limits=limits, queue_size=queue_size,
                                             timeout_s=timeout_s, batch_tokens=batch_tokens)
        self._services: dict[str, InferenceService] = {}
        self._lock = threading.Lock()

    @classmethod
    def of(cls, service: InferenceService) -> LocalClient:
        """A client for one running service (its model only)."""
        client = cls(allow_model=lambda model_id: model_id == service.model_id)
        client._services[service.model_id] = service
        return client

    def service(self, model_id: str) -> InferenceService:
        """The service of ``model_id``, started (and its model loaded) on first use."""
        with self._lock:
            if model_id not in self._services:
                if not self.allow_model(model_id):
                    raise NotFoundError(f"model {model_id!r} is not available for inference here")
                # Under the lock, so one model is never loaded twice; other models wait for the load too,
                # which happens once per model and process.
                self._services[model_id] = InferenceService(model_id, **self._options)
            return self._services[model_id]

    def _dispatch(self, query: Query) -> Any:
        return self.service(query.model).run(query)


    def info(self) -> dict[str, Any]:
        with self._lock:
            services = list(self._services.values())
        return {"mode": "in-process", "models": [s.info() for s in services]}

    def close(self) -> None:
        with self._lock:
            services = list(self._services.values())
            self._services.clear()
        for service in services:
            service.close()


_CLIENT: InferenceClient | None = None
_CLIENT_LOCK = threading.Lock()


def get_client(settings: Settings, *, source_path: SourcePath = neurons_only,
               allow_model: Callable[[str], bool] = registered_models) -> InferenceClient:
    """The process's inference client, made on the first call: HTTP to ``settings.inference_url``, or
    in-process when it is empty. Later calls return the same client (their arguments are not used)."""
    global _CLIENT
    with _CLIENT_LOCK:
        if _CLIENT is None:
            _CLIENT = make_client(settings, source_path=source_path, allow_model=allow_model)
        return _CLIENT


def make_client(settings: Settings, *, source_path: SourcePath = neurons_only,
                allow_model: Callable[[str], bool] = registered_models) -> InferenceClient:
    """A new client as ``get_client`` chooses it (``source_path`` and ``allow_model`` are for in-process)."""
    if settings.inference_url:
        from featurepedia.inference.http_client import HttpClient

        # A little longer than the service's own timeout, so its clear 504 arrives before ours.
        return HttpClient(settings.inference_url, timeout_s=settings.inference_timeout + 5)
    return LocalClient(source_path=source_path, allow_model=allow_model, queue_size=settings.inference_queue_size,
                       timeout_s=settings.inference_timeout)


def reset_client() -> None:
    """Close and forget the process's client (tests change settings)."""
    global _CLIENT
    with _CLIENT_LOCK:
        if _CLIENT is not None:
            _CLIENT.close()
        _CLIENT = None
