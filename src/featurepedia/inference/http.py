"""``featurepedia inference``: the inference service of one model over HTTP, for the web processes.

Routes (JSON bodies; the query and result dataclasses of ``inference.queries`` as JSON objects):

- ``POST /v1/activations``, ``/v1/top-features``, ``/v1/topk-by-token``, ``/v1/attribution``,
  ``/v1/steer``, ``/v1/steer-chat`` → ``{"ok": true, "result": ...}``;
- ``GET /healthz`` → ``{"ok": true, "service": {model, queue, stats...}}``.

Every error is ``{"ok": false, "error": message, "status": N}`` with HTTP status N: 400 bad JSON or input
over the limits, 404 unknown route or model, 411/413 body without a length or over ``max_body`` bytes,
503 with Retry-After when the queue is full, 504 when a request times out, 500 for a bug (logged).

Why the standard library's ThreadingHTTPServer and not a framework or waitress: the work is done by the
service's single worker thread, so a handler thread only parses JSON and waits, and the server's own
concurrency model cannot limit throughput; the queue bound (not a thread pool) is what sheds load, and it
answers a full queue at once with 503. Its one client is our own web layer on a private network, so a
thread per connection is enough (HTTP/1.1 keep-alive; idle connections close after ``IDLE_S``). It adds
no dependency and no WSGI layer between the socket and the JSON.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Mapping, Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from featurepedia.errors import FeaturepediaError, NotFoundError, UsageError
from featurepedia.inference.queries import OPERATIONS
from featurepedia.inference.service import InferenceService, QueueFullError
from featurepedia.inference.wire import from_wire, to_wire

log = logging.getLogger(__name__)
MAX_BODY = 4 * 1024 * 1024  # 32 texts of 10,000 characters at 4 UTF-8 bytes each is 1.3 MB
IDLE_S = 120.0


class InferenceServer(ThreadingHTTPServer):
    """A ThreadingHTTPServer answering for one :class:`InferenceService`."""

    daemon_threads = True  # a connection left open never blocks shutdown
    # socketserver's default backlog of 5 resets connections when web threads connect at once (32 in a
    # test did); waitress uses 1024.
    request_queue_size = 1024
    service: InferenceService
    max_body: int

    def __init__(self, address: tuple[str, int], service: InferenceService, max_body: int = MAX_BODY) -> None:
        super().__init__(address, Handler)
        self.service = service
        self.max_body = max_body

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host!s}:{port}"


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive: the web processes reuse their connections
    timeout = IDLE_S
    server: InferenceServer

    def do_GET(self) -> None:
        if self.headers.get("Content-Length", "0") != "0":
            self.close_connection = True  # a GET body is not read: do not parse it as the next request
        if self.path == "/healthz":
            self._send(200, {"ok": True, "service": self.server.service.info()})
        elif self.path.startswith("/v1/"):
            self._error(UsageError(f"{self.path} takes POST with a JSON body", status=405))
        else:
            self._error(NotFoundError(f"no route {self.path}; the routes are GET /healthz and POST "
                                      f"{', '.join('/v1/' + name for name in OPERATIONS)}"))

    def do_POST(self) -> None:
        try:
            body = self._read_body()  # first, so that on a kept-alive connection the next request starts clean
            operation = OPERATIONS.get(self.path.removeprefix("/v1/")) if self.path.startswith("/v1/") else None
            if operation is None:
                raise NotFoundError(f"no route POST {self.path}; the routes are "
                                    f"{', '.join('/v1/' + name for name in OPERATIONS)}")
            query: Any = from_wire(operation.query, _parse(body), "the query")
            result = self.server.service.run(query)
            self._send(200, {"ok": True, "result": to_wire(result)})
        except FeaturepediaError as err:
            self._error(err)
        except Exception as err:  # a bug: logged here, answered in the one error shape
            log.exception("inference request %s failed", self.path)
            self._error(FeaturepediaError(f"internal error in the inference service: {err}", status=500))

    def do_PUT(self) -> None:
        self.close_connection = True  # its body is not read
        self._error(UsageError(f"{self.command} is not served; use GET /healthz or POST /v1/<operation>", status=405))

    do_DELETE = do_PATCH = do_PUT

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """The base class's own errors (a malformed request line, a header too long) in the error shape."""
        self.close_connection = True
        self._error(FeaturepediaError(message or f"HTTP error {code}", status=code))

    def _read_body(self) -> bytes:
        length = self.headers.get("Content-Length")
        if length is None or not length.isdigit():
            self.close_connection = True
            raise UsageError("the request needs a Content-Length header and a JSON body", status=411)
        size = int(length)
        if size > self.server.max_body:
            self.close_connection = True  # the body is not read, so the connection cannot be reused
            raise UsageError(f"the request is {size:,} bytes; the limit is {self.server.max_body:,}", status=413)
        return self.rfile.read(size)

    def _error(self, err: FeaturepediaError) -> None:
        body: dict[str, Any] = {"ok": False, "error": err.message, "status": err.status}
        headers = {}
        if isinstance(err, QueueFullError):
            body["retry_after"] = err.retry_after
            headers["Retry-After"] = str(err.retry_after)
        self._send(err.status, body, headers)

    def _send(self, status: int, payload: Mapping[str, Any], headers: Mapping[str, str] | None = None) -> None:
        data = json.dumps(payload, ensure_ascii=False).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002  (the base class's name)
        log.debug("%s " + format, self.address_string(), *args)


def _parse(body: bytes) -> Any:
    try:
        return json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as err:
        raise UsageError(f"the request body is not UTF-8 JSON: {err}") from None


def start_server(service: InferenceService, host: str = "127.0.0.1", port: int = 0,
                 max_body: int = MAX_BODY) -> tuple[InferenceServer, threading.Thread]:
    """Serve ``service`` on a background thread (port 0: any free port; see ``server.url``)."""
    server = InferenceServer((host, port), service, max_body)
    thread = threading.Thread(target=server.serve_forever, name="inference http", daemon=True)
    thread.start()
    return server, thread


def sae_paths(specs: Sequence[str]) -> dict[str, str]:
    """``--sae SOURCE=PATH`` options as {source id: path}."""
    for spec in specs:
        if "=" not in spec:
            raise UsageError(f"--sae {spec!r} must be SOURCE=PATH, e.g. 6-res-sae=/data/saes/6")
    return dict(spec.split("=", 1) for spec in specs)


def serve_inference(model_id: str, host: str, port: int, *, sae: Mapping[str, str] | None = None,
                    queue_size: int = 32, timeout_s: float = 30.0, say: Callable[[str], None]) -> None:
    """Load ``model_id`` and answer inference requests on host:port until interrupted.

    Args:
        sae: SAE folders or hub specs by source id (e.g. ``{"6-res-sae": "/data/saes/6"}``); other ids resolve as
            MLP neurons.
    """
    import torch

    from featurepedia.settings import get_settings

    if get_settings().torch_threads:
        torch.set_num_threads(get_settings().torch_threads)
    paths = {source_id: Path(path) for source_id, path in (sae or {}).items()}
    service = InferenceService(model_id, source_path=lambda _model, source_id: paths.get(source_id),
                               queue_size=queue_size, timeout_s=timeout_s)
    server = InferenceServer((host, port), service)
    say(f"featurepedia inference: {model_id} at {server.url}/  (Ctrl+C stops it)")
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        say("featurepedia inference: stopped")
    finally:
        server.server_close()
        service.close()
