"""A local stand-in for an OpenAI-compatible chat endpoint, for tests of the openai explainer and judges.

It answers every chat request with 100 prompt and 10 completion tokens of usage; ``ChatHandler.mode``
makes it slow, refuse the key, or fail the first call, to test timeouts, errors and retries.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

ANSWER = "the main thing this neuron does is find animals."


class ChatHandler(BaseHTTPRequestHandler):
    mode = "ok"  # "ok", "slow", "401" or "flaky"
    calls = 0

    def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
        type(self).calls += 1
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        if self.mode == "slow":
            time.sleep(1.0)
        if self.mode == "401":
            return self._send(401, {"error": {"message": "invalid api key"}})
        if self.mode == "flaky" and type(self).calls == 1:
            return self._send(503, {"error": "busy"})
        user = body["messages"][-1]["content"]
        if body.get("logprobs"):
            yes = -0.1 if "cat" in user or "dog" in user else -3.0
            message = {"role": "assistant", "content": "Yes"}
            logprobs = {"content": [{"token": "Yes", "logprob": yes,
                                     "top_logprobs": [{"token": "Yes", "logprob": yes},
                                                      {"token": "No", "logprob": -0.1 if yes < -1 else -3.0}]}]}
            choice = {"index": 0, "message": message, "logprobs": logprobs}
        else:
            choice = {"index": 0, "message": {"role": "assistant", "content": ANSWER}}
        self._send(200, {"choices": [choice], "usage": {"prompt_tokens": 100, "completion_tokens": 10}})

    def _send(self, status: int, payload: dict) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        try:
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (timeout test)

    def log_message(self, *args) -> None:
        pass


@contextmanager
def fake_chat_server() -> Iterator[str]:
    """Serve ChatHandler on a free local port; yields the base URL (``http://127.0.0.1:PORT/v1``)."""
    ChatHandler.mode, ChatHandler.calls = "ok", 0
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), ChatHandler)
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}/v1"
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)
