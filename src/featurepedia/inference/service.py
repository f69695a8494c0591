"""The inference service: one model, one worker thread, a bounded queue, a timeout on every request.

The computations attach hooks to the shared model while they run, so calls on one model must not overlap:
one worker thread per model runs them, in arrival order, and everything else waits in a queue. (Should two
services share one pooled model, a lock per model makes their workers take turns.)

- **Bounded queue.** At most ``queue_size`` requests wait (the one running is not counted); one more is
  refused at once with :class:`QueueFullError` (503) carrying ``retry_after`` seconds, an estimate from
  the recent time per request, so callers back off instead of piling up.
- **Input length.** Texts over ``Limits.max_chars`` characters (or token lists over ``max_tokens``) are
  refused before they are queued (400, the message states the limit); the token count of a text is
  checked on the worker, which owns the tokenizer, before its forward pass.
- **Timeout.** Every request has a deadline ``timeout_s`` after it was submitted. The caller stops waiting
  at the deadline (:class:`InferenceTimeoutError`, 504). The worker drops a request whose deadline has
  passed (or whose caller gave up) instead of starting it, and a running request is stopped at the next
  layer it reaches once the deadline passes (a hook on every layer's MLP checks the clock), so a 256-token
  steering run or a large ablation batch frees the worker within one layer's time of its deadline. What
  cannot be interrupted is the layer being computed (and work between forward passes, such as encoding
  with a large SAE), so the worker may run a little past a deadline, never much.
- **Batching.** When the worker takes an activation request it also takes every other queued activation
  request (up to ``limits.max_texts`` texts and ``batch_tokens`` padded tokens) and answers them all with
  one padded forward pass (``batch_activations``). It pays on CPU: SmolLM2-135M to layer 6 on 2 cores
  (shared with other jobs, load ~5; best of 7-15 runs), 8 requests of 64 tokens took 1.5-2.4 s one by one
  and 0.58-0.81 s batched (1.9-4x the throughput); 4 requests 1.4x, 16 requests 2.8x. A request that
  finds no company runs exactly as it would unbatched.
"""

from __future__ import annotations

import functools
import logging
import math
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from typing import Any

import torch

from featurepedia.errors import FeaturepediaError, NotFoundError, UnavailableError, UsageError
from featurepedia.inference.activations import ActivationRequest
from featurepedia.inference.limits import DEFAULT_LIMITS, Limits, check_count
from featurepedia.inference.operations import (
    SourceCache,
    SourcePath,
    neurons_only,
    padded_tokens,
    prepare_activations,
    run_activation_batch,
    run_query,
)
from featurepedia.inference.queries import (
    OPERATION_OF,
    ActivationsQuery,
    Query,
    SteerChatQuery,
    SteerQuery,
    texts_of,
)
from featurepedia.lm.model import LanguageModel
from featurepedia.lm.pool import get_model
from featurepedia.settings import get_settings

log = logging.getLogger(__name__)


# One lock per loaded model (by identity): two services on one pooled model (an in-process client beside
# a test's service, say) take turns instead of attaching hooks to it at the same time.
_MODEL_LOCKS: dict[int, threading.Lock] = {}
_MODEL_LOCKS_LOCK = threading.Lock()


def model_lock(model: object) -> threading.Lock:
    with _MODEL_LOCKS_LOCK:
        return _MODEL_LOCKS.setdefault(id(model), threading.Lock())


class QueueFullError(UnavailableError):
    """The request queue is full: retry after ``retry_after`` seconds (HTTP: 503 with Retry-After)."""

    def __init__(self, message: str, *, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class InferenceTimeoutError(FeaturepediaError, TimeoutError):
    """A request did not finish within the service's timeout."""

    status = 504


class _Expired(Exception):
    """Raised by the deadline hook inside a forward pass."""


class Pending:
    """A submitted request; :meth:`result` waits for its answer until its deadline."""

    def __init__(self, operation: str, query: Query, timeout_s: float) -> None:
        self.operation = operation
        self.query = query
        self.timeout_s = timeout_s
        self.deadline = time.monotonic() + timeout_s
        self.abandoned = False  # the caller stopped waiting: nobody wants the answer
        self._done = threading.Event()
        self._value: Any = None
        self._error: BaseException | None = None

    def result(self) -> Any:
        """The answer, or the request's error; InferenceTimeoutError at the deadline."""
        if not self._done.wait(max(0.0, self.deadline - time.monotonic())):
            self.abandoned = True
            if not self._done.is_set():
                raise self.timeout_error()
        if self._error is not None:
            raise self._error
        return self._value

    def finish(self, value: Any) -> None:
        self._value = value
        self._done.set()

    def fail(self, error: BaseException) -> None:
        self._error = error
        self._done.set()

    def wanted(self) -> bool:
        """Still worth running: its caller waits and its deadline has not passed."""
        return not self.abandoned and time.monotonic() < self.deadline

    def timeout_error(self) -> InferenceTimeoutError:
        return InferenceTimeoutError(
            f"the {self.operation} request did not finish within {self.timeout_s:g} s: the inference service "
            "is busy or the request is large; retry, or ask for less (a shorter text, fewer new tokens)")


class InferenceService:
    """Answers inference queries for one model (from the model pool) on one worker thread.

    Args:
        model_id: the model, as the pool knows it (e.g. ``smollm2-135m``); queries must name it.
        source_path: where SAE weights are, by (model id, source id); the default knows none, so only
            ``<layer>-mlp`` neuron sources resolve. Called on the worker thread, once per source.
        queue_size: requests that may wait; one more gets QueueFullError.
        timeout_s: seconds from submission until a request times out.
        batch_tokens: padded tokens (rows x longest row) one batched activation pass may hold.
    """

    def __init__(self, model_id: str, *, source_path: SourcePath = neurons_only, limits: Limits = DEFAULT_LIMITS,
                 queue_size: int = 32, timeout_s: float = 30.0, batch_tokens: int = 4096,
                 dtype: torch.dtype = torch.float32, device: str = "cpu",
                 generation_dtype: torch.dtype | None = None) -> None:
        if queue_size < 1 or not timeout_s > 0 or batch_tokens < 1:
            raise UsageError(f"the inference service needs queue_size >= 1, timeout_s > 0 and batch_tokens >= 1; "
                             f"got {queue_size}, {timeout_s}, {batch_tokens}")
        self.model_id = model_id
        self.model = get_model(model_id, dtype=dtype, device=device)
        self.generation_dtype = generation_dtype or resolve_generation_dtype(get_settings().generation_dtype)
        self._device = device
        self.limits = limits
        self.queue_size = queue_size
        self.timeout_s = timeout_s
        self.batch_tokens = batch_tokens
        self.stats: Counter[str] = Counter()
        self._model_lock = model_lock(self.model)
        self._sources = SourceCache(model_id, self.model, source_path)
        self._queue: deque[Pending] = deque()
        self._cond = threading.Condition()
        self._closed = False
        self._seconds_per_request = 0.5  # running average, for Retry-After
        self._worker = threading.Thread(target=self._work, name=f"inference {model_id}", daemon=True)
        self._worker.start()

    def generation_model(self) -> LanguageModel:
        """The model steering generates with: the service's own, or its copy in ``generation_dtype`` (loaded
        from the pool on the first steering request)."""
        if self.generation_dtype == self.model.dtype:
            return self.model
        try:
            return get_model(self.model_id, dtype=self.generation_dtype, device=self._device)
        except Exception as err:  # a model the pool cannot load again (one put in it by hand): keep to ours
            log.warning("steering on %s stays in %s: its %s copy could not be loaded (%s)", self.model_id,
                        self.model.dtype, self.generation_dtype, err)
            self.generation_dtype = self.model.dtype
            return self.model

    # -- callers' side ---------------------------------------------------------------------------------
    def run(self, query: Query) -> Any:
        """Submit a query and wait for its answer (see :meth:`submit` for the errors)."""
        return self.submit(query).result()

    def submit(self, query: Query) -> Pending:
        """Queue a query; it runs on the worker thread.

        Raises:
            NotFoundError: the query names another model.
            UsageError: a text is over the input limits.
            QueueFullError: ``queue_size`` requests are waiting already.
        """
        operation = OPERATION_OF.get(type(query))
        if operation is None:
            raise TypeError(f"not an inference query: {type(query).__name__}")
        if query.model != self.model_id:
            raise NotFoundError(f"this inference service runs the model {self.model_id!r}, not {query.model!r}; "
                                f"run one for it (featurepedia inference --model {query.model})")
        check_input(query, self.limits)
        with self._cond:
            if self._closed:
                raise UnavailableError(f"the inference service of {self.model_id} is shut down; restart it")
            if len(self._queue) >= self.queue_size:
                self.stats["rejected"] += 1
                wait = self.retry_after()
                raise QueueFullError(f"the inference queue of {self.model_id} is full ({self.queue_size} requests "
                                     f"waiting); retry in {wait} s", retry_after=wait)
            pending = Pending(operation.name, query, self.timeout_s)
            self._queue.append(pending)
            self._cond.notify()
        return pending

    def retry_after(self) -> int:
        """Whole seconds until the queue has likely moved on (1..60)."""
        return min(60, max(1, math.ceil(self._seconds_per_request * (len(self._queue) + 1))))

    def info(self) -> dict[str, Any]:
        """What the service runs and how it is doing (JSON values; /healthz shows them)."""
        with self._cond:
            waiting, stats = len(self._queue), dict(self.stats)
        return {"model": self.model_id, "queue_size": self.queue_size, "waiting": waiting,
                "timeout_s": self.timeout_s, "max_chars": self.limits.max_chars,
                "max_tokens": self.limits.max_tokens, "sources": self._sources.loaded(), "stats": stats}

    def close(self, wait_s: float = 10.0) -> None:
        """Refuse new requests, fail the waiting ones (503) and stop the worker after its current request."""
        with self._cond:
            self._closed = True
            waiting = list(self._queue)
            self._queue.clear()
            self._cond.notify_all()
        for pending in waiting:
            pending.fail(UnavailableError(f"the inference service of {self.model_id} shut down before this "
                                          "request ran; retry"))
        self._worker.join(wait_s)

    def _count(self, name: str, n: int = 1) -> None:
        with self._cond:  # info() reads the counters from other threads
            self.stats[name] += n

    # -- the worker ------------------------------------------------------------------------------------
    def _work(self) -> None:
        while True:
            with self._cond:
                while not self._queue and not self._closed:
                    self._cond.wait()
                if self._closed:
                    return
                head = self._queue.popleft()
            if not self._still_wanted(head):
                continue
            if isinstance(head.query, ActivationsQuery):
                self._run_activations(head)
            else:
                extra = [self.generation_model()] if isinstance(head.query, SteerQuery | SteerChatQuery) else []
                self._run([head], functools.partial(self._answer, head.query), also=extra)

    def _answer(self, query: Query) -> list[Any]:
        return [run_query(self._sources, query, self.limits, generator=self.generation_model)]

    def _still_wanted(self, pending: Pending) -> bool:
        if pending.wanted():
            return True
        self._count("timed_out")
        pending.fail(pending.timeout_error())
        return False

    def _run_activations(self, head: Pending) -> None:
        """Run ``head`` together with every activation request queued behind it that fits the batch."""
        jobs: list[Pending] = []
        requests: list[ActivationRequest] = []
        with self._cond:
            others = [p for p in self._queue if isinstance(p.query, ActivationsQuery)]
            for p in others:
                self._queue.remove(p)
        put_back = []
        with self._model_lock:  # resolving sources and tokenising use the model too
            for pending in [head, *others]:
                query = pending.query
                if not isinstance(query, ActivationsQuery) or not self._still_wanted(pending):
                    continue
                try:
                    request = prepare_activations(self._sources, query, self.limits)
                except Exception as err:  # this request's own error; it never joins the batch
                    self._count("failed")
                    pending.fail(err)
                    continue
                texts = sum(len(r.texts) for r in [*requests, request])
                if jobs and (texts > self.limits.max_texts or padded_tokens([*requests, request]) > self.batch_tokens):
                    put_back.append(pending)
                    continue
                jobs.append(pending)
                requests.append(request)
        if put_back:
            with self._cond:
                self._queue.extendleft(reversed(put_back))  # first in the queue again, in their order
        if jobs:
            if len(jobs) > 1:
                self._count("batches")
                self._count("batched_requests", len(jobs))
            self._run(jobs, lambda: run_activation_batch(self.model, requests, self.limits))

    def _run(self, jobs: list[Pending], compute: Callable[[], Sequence[Any]],
             also: Sequence[LanguageModel] = ()) -> None:
        """Run ``compute()`` (one answer per job) with the deadline hook of the latest deadline on the model
        and on the models in ``also`` (the generation copy, for steering)."""
        start = time.monotonic()
        try:
            with self._model_lock, self._deadline(max(j.deadline for j in jobs), also):
                answers = compute()
        except _Expired:
            self._count("timed_out", len(jobs))
            for job in jobs:
                job.fail(job.timeout_error())
        except Exception as err:  # the request's error (usually a UsageError) goes to its caller
            self._count("failed", len(jobs))
            if not isinstance(err, FeaturepediaError):
                log.exception("inference %s failed", jobs[0].operation)
            for job in jobs:
                job.fail(err)
        else:
            self._count("served", len(jobs))
            for job, answer in zip(jobs, answers, strict=True):
                job.finish(answer)
        per_request = (time.monotonic() - start) / len(jobs)
        self._seconds_per_request = 0.8 * self._seconds_per_request + 0.2 * per_request

    @contextmanager
    def _deadline(self, deadline: float, also: Sequence[LanguageModel] = ()) -> Iterator[None]:
        def check(act: torch.Tensor) -> None:
            if time.monotonic() > deadline:
                raise _Expired

        # Every layer, so that a long forward pass (a big ablation batch) stops within a layer's time too.
        with ExitStack() as stack:
            for model in [self.model, *(m for m in also if m is not self.model)]:
                stack.enter_context(model.hooks([(f"blocks.{layer}.mlp.hook_post", check)
                                                 for layer in range(model.n_layers)]))
            yield


def check_input(query: Query, limits: Limits) -> None:
    """The checks made before a query is queued: its texts' lengths and count (cheap; no tokenizer)."""
    if isinstance(query, ActivationsQuery):
        check_count("the number of texts", len(query.texts), limits.max_texts)
    for text in texts_of(query):
        if isinstance(text, str) and len(text) > limits.max_chars:
            raise UsageError(f"the text is {len(text):,} characters; the limit is {limits.max_chars:,}")
        if not isinstance(text, str) and len(text) > limits.max_tokens:
            raise UsageError(f"the text is {len(text):,} tokens; the limit is {limits.max_tokens:,}: shorten it")


def resolve_generation_dtype(name: str) -> torch.dtype:
    """``auto`` is bfloat16 where the CPU computes it natively (AVX-512 BF16 or AMX), else float32."""
    if name == "auto":
        native = getattr(torch.cpu, "_is_avx512_bf16_supported", lambda: False)() or \
            getattr(torch.cpu, "_is_amx_tile_supported", lambda: False)()
        return torch.bfloat16 if native else torch.float32
    return {"float32": torch.float32, "bfloat16": torch.bfloat16}[name]
