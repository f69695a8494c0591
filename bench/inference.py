"""Benchmark: live inference through the HTTP API of `featurepedia serve` against the bare forward pass.

Starts `featurepedia serve` (embedded mode: inference runs inside the web process) on a free port with the
API's rate limits off, warms it up (the first request waits for the model), then measures in one run:

- custom-text activations (``POST /api/activation/new``, one feature of the default source) on real texts
  of the bundled corpus, each exactly 64 tokens with the BOS token (63 of text: decoded corpus contexts that
  tokenise back to the same ids): sequential requests, p50 and p99;
- the same requests from 8 concurrent clients (threads, one keep-alive connection each): p50, p99 and
  requests/s (the service batches concurrent activation requests into one forward pass);
- the bare forward pass of the same ids to the source's hook (``model.run_to``) in this process, one text
  at a time, with the same torch threads as the server (torch's default unless FEATUREPEDIA_TORCH_THREADS
  is set), and a batch of 8 texts beside it;
- search-all (``POST /api/search-all`` over the source, a short text) p50;
- steering (``POST /api/steer``, --steer-tokens new tokens): steered plus default tokens per second.

The machine's speed drifts and other tenants add spikes, so the forward pass, the sequential and the
concurrent requests run in rounds, in an order that alternates (F S C, C S F, ...), and the forward pass
runs only while the server is idle (the two never compete for the cores). ``overhead_ratio`` is activation
p50 / forward p50; ``concurrent_tok_ratio`` is the concurrent tokens/s (64 x requests/s) over the bare
forward pass's tokens/s, 64 / forward p50 (one text per pass, as one request alone runs);
``concurrent_tok_ratio_batch8`` compares with a forward pass of 8 texts at once instead.

It needs a database with the default model's source built, as `make demo` leaves it in ./data
(FEATUREPEDIA_DATA_DIR, or --data-dir); --build-tokens N builds a small one into a temporary data dir
first (sharing the model cache of the data dir).

    python bench/inference.py [--requests 100] [--concurrency 8] [--rounds 4] [--port P] [--data-dir DIR]
                              [--build-tokens 4096]

The last line printed is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
from featurepedia import runtime  # noqa: E402
from featurepedia.settings import DEFAULT_MODEL_ID, DEFAULT_SOURCE_ID  # noqa: E402

RUNTIME = runtime.configure()  # as the featurepedia command does, before torch loads: the server gets it too
CTX_LEN = 64  # tokens per text, BOS included
TARGETS = {"activation_p50_ms": ("<=", 100), "activation_p99_ms": ("<=", 300), "overhead_ratio": ("<=", 1.5),
           "concurrent_tok_ratio": (">=", 0.8), "steer_tok_s": (">=", 20)}


class BenchError(Exception):
    """Something the user has to fix before the benchmark can run; the message says what."""


# -- figures ----------------------------------------------------------------------------------------
def percentile(values: list[float], q: float) -> float:
    """The q-th percentile (0-100), linear between the two nearest ranks."""
    xs = sorted(values)
    pos = (len(xs) - 1) * q / 100
    lo, hi = math.floor(pos), math.ceil(pos)
    return xs[lo] + (xs[hi] - xs[lo]) * (pos - lo)


def ms(seconds: float) -> float:
    return round(seconds * 1000, 1)


# -- data dir and server ----------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def build_small(data_dir: Path, tmp: Path, model: str, source: str, tokens: int) -> Path:
    """Build ``source`` from ``tokens`` corpus tokens into a new SQLite data dir under ``tmp``."""
    target = tmp / "data"
    target.mkdir()
    if (data_dir / "models").is_dir():  # the converted model cache: no second download or conversion
        (target / "models").symlink_to((data_dir / "models").resolve())
    print(f"building {model}/{source} from {tokens:,} tokens into {target} ...", flush=True)
    env = {**os.environ, "FEATUREPEDIA_DATA_DIR": str(target), "FEATUREPEDIA_DATABASE_URL": ""}
    subprocess.run([sys.executable, "-m", "featurepedia.cli", "build", "--model", model, "--source", source,
                    "--tokens", str(tokens), "--quiet"], env=env, check=True)
    return target


@contextmanager
def running_server(port: int, env: dict[str, str], log_path: Path) -> Iterator[str]:
    """`featurepedia serve --port port` in a subprocess, until the block ends (error and Ctrl+C included)."""
    url = f"http://127.0.0.1:{port}"
    with open(log_path, "wb") as log:
        server = subprocess.Popen([sys.executable, "-m", "featurepedia.cli", "serve", "--port", str(port)],
                                  env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_until_up(server, url, log_path)
        yield url
    finally:
        server.terminate()
        try:
            server.wait(15)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


def wait_until_up(server: subprocess.Popen, url: str, log_path: Path, timeout_s: float = 180) -> None:
    import httpx

    end = time.monotonic() + timeout_s
    while time.monotonic() < end:
        if server.poll() is not None:
            raise BenchError(f"featurepedia serve exited with code {server.returncode}:\n{tail(log_path)}")
        try:
            httpx.get(f"{url}/api/models", timeout=5)
            return
        except httpx.TransportError:
            time.sleep(0.3)
    raise BenchError(f"featurepedia serve did not answer at {url} within {timeout_s:.0f} s:\n{tail(log_path)}")


def tail(path: Path, lines: int = 20) -> str:
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


def check_source(url: str, model: str, source: str, data_dir: Path) -> int:
    """The source's number of features; BenchError with how to build it when the database lacks it."""
    import httpx

    how = (f"build it with `make demo` (or `featurepedia build --model {model} --source {source}`) with "
           f"FEATUREPEDIA_DATA_DIR={data_dir}, point --data-dir at a data dir that has it, or run this with "
           "--build-tokens 4096 to build a small one in a temporary data dir")
    answer = httpx.get(f"{url}/api/models/{model}/sources", params={"limit": 100}, timeout=30)
    if answer.status_code == 404:
        raise BenchError(f"the database in {data_dir} has no model {model!r}; {how}")
    answer.raise_for_status()
    found = {s["id"]: s for s in answer.json()["items"]}
    if source not in found or found[source]["status"] != "ready":
        state = f" (it is {found[source]['status']})" if source in found else ""
        raise BenchError(f"the database in {data_dir} has no built source {model}/{source}{state}; {how}")
    return int(found[source]["n_features"])


# -- texts and the bare forward pass ----------------------------------------------------------------
def corpus_texts(model: Any, n: int) -> list[tuple[str, list[int]]]:
    """``n`` texts of the bundled corpus that run as exactly CTX_LEN tokens (BOS included), with their ids:
    corpus contexts whose decoded text tokenises back to the same ids (no document boundary inside)."""
    from featurepedia.corpus import ContextSpec, iter_contexts

    eos = model.tokenizer.eos_token_id
    texts = []
    for ids in iter_contexts(model.tokenizer, ContextSpec(ctx_len=CTX_LEN), n_contexts=50 * n):
        if eos in ids[1:]:
            continue
        text = model.tokenizer.decode(ids[1:])
        if "\x00" in text or model.to_tokens(text) != ids:
            continue
        texts.append((text, ids))
        if len(texts) == n:
            return texts
    raise BenchError(f"the bundled corpus gave only {len(texts)} texts of {CTX_LEN} tokens; ask for fewer (--texts)")


class Forward:
    """The bare forward pass to the hook, on ids of one text at a time or a batch of them."""

    def __init__(self, model: Any, hook: str) -> None:
        self.model, self.hook = model, hook

    def time(self, ids: list[list[int]]) -> float:
        import torch

        batch = torch.tensor(ids)
        start = time.perf_counter()
        with torch.inference_mode():
            self.model.run_to(self.hook, batch)
        return time.perf_counter() - start


# -- HTTP measurements ------------------------------------------------------------------------------
def post(client: Any, path: str, body: dict[str, Any]) -> tuple[float, Any]:
    start = time.perf_counter()
    answer = client.post(path, json=body)
    elapsed = time.perf_counter() - start
    if answer.status_code != 200:
        raise BenchError(f"POST {path} answered {answer.status_code}: {answer.text[:500]}")
    return elapsed, answer.json()


def activation_body(model: str, source: str, index: int, text: str) -> dict[str, Any]:
    return {"feature": {"modelId": model, "source": source, "index": index}, "customText": text}


def concurrent(url: str, bodies: list[dict[str, Any]], clients: int) -> tuple[list[float], float]:
    """Send ``bodies`` from ``clients`` threads (one keep-alive connection each, all starting together):
    every request's latency and the wall time from the start to the last answer."""
    import httpx

    latencies: list[float] = []
    errors: list[BaseException] = []
    lock = threading.Lock()
    start_line = threading.Barrier(clients + 1)
    shares = [bodies[i::clients] for i in range(clients)]

    def run(share: list[dict[str, Any]]) -> None:
        with httpx.Client(base_url=url, timeout=120) as client:
            client.get("/api/models")  # open the connection before the start line
            start_line.wait()
            try:
                for body in share:
                    elapsed, _ = post(client, "/api/activation/new", body)
                    with lock:
                        latencies.append(elapsed)
            except BaseException as err:  # reported by the main thread
                errors.append(err)

    threads = [threading.Thread(target=run, args=(share,)) for share in shares]
    for t in threads:
        t.start()
    start_line.wait()
    start = time.perf_counter()
    for t in threads:
        t.join()
    wall = time.perf_counter() - start
    if errors:
        raise errors[0]
    return latencies, wall


# -- the run ----------------------------------------------------------------------------------------
def measure(args: argparse.Namespace, url: str, n_features: int) -> dict[str, Any]:
    import httpx
    import torch

    from featurepedia.lm import get_model
    from featurepedia.settings import get_settings
    from featurepedia.sources import source_for

    if get_settings().torch_threads:  # what the server does with the same setting
        torch.set_num_threads(get_settings().torch_threads)
    model = get_model(args.model)
    forward = Forward(model, source_for(model, args.source).hook_name)
    texts = corpus_texts(model, args.texts)
    index = min(args.feature, n_features - 1)
    bodies = [activation_body(args.model, args.source, index, text) for text, _ in texts]
    ids = [i for _, i in texts]
    short = " ".join(texts[0][0].split()[:8])
    search = {"modelId": args.model, "selectedLayers": [args.source], "text": short, "numResults": 20}

    http = httpx.Client(base_url=url, timeout=120)
    print(f"warming up (the server loads {args.model}) ...", flush=True)
    for body in bodies:
        _, answer = post(http, "/api/activation/new", body)
        if len(answer["values"]) != CTX_LEN:
            raise BenchError(f"the server ran a text as {len(answer['values'])} tokens, not {CTX_LEN}")
    concurrent(url, bodies * 2, args.concurrency)
    post(http, "/api/search-all", search)
    for _ in range(3):
        forward.time(ids[:1])
        forward.time(ids[:8])

    per_round = max(1, args.requests // args.rounds)
    conc_per_round = max(args.concurrency, args.concurrent_requests // args.rounds)
    fwd, fwd8, seq, conc, rates = [], [], [], [], []
    for r in range(args.rounds):
        def run_forward() -> None:
            for i in range(per_round):
                fwd.append(forward.time([ids[i % len(ids)]]))
            for i in range(max(2, per_round // 8)):
                fwd8.append(forward.time([ids[(i + j) % len(ids)] for j in range(8)]))

        def run_sequential() -> None:
            for i in range(per_round):
                seq.append(post(http, "/api/activation/new", bodies[i % len(bodies)])[0])

        def run_concurrent() -> None:
            latencies, wall = concurrent(url, [bodies[i % len(bodies)] for i in range(conc_per_round)],
                                         args.concurrency)
            conc.extend(latencies)
            rates.append(len(latencies) / wall)

        phases = [run_forward, run_sequential, run_concurrent]
        for phase in phases if r % 2 == 0 else reversed(phases):
            phase()
        print(f"round {r + 1}/{args.rounds}: forward p50 {ms(statistics.median(fwd[-per_round:]))} ms, "
              f"activation p50 {ms(statistics.median(seq[-per_round:]))} ms, concurrent {rates[-1]:.1f} req/s",
              flush=True)

    searches = [post(http, "/api/search-all", search)[0] for _ in range(args.search_requests)]
    steer_tokens, steer_wall = 0, 0.0
    for i in range(args.steer_requests):
        # n_logprobs 1: the answer lists each generated token, so the count is exact (also when EOS stops it)
        elapsed, answer = post(http, "/api/steer", {
            "modelId": args.model, "prompt": short, "n_tokens": args.steer_tokens, "temperature": 0.5, "seed": i,
            "features": [{"modelId": args.model, "layer": args.source, "index": index, "strength": 4.0}],
            "n_logprobs": 1})
        steer_tokens += len(answer["steeredLogProbs"]) + len(answer["defaultLogProbs"])
        steer_wall += elapsed
    http.close()

    forward_p50 = statistics.median(fwd)
    forward_tok_s = CTX_LEN / forward_p50
    forward8_tok_s = 8 * CTX_LEN / statistics.median(fwd8)
    concurrent_rps = statistics.median(rates)
    activation_p50 = statistics.median(seq)
    return {
        "activation_p50_ms": ms(activation_p50), "activation_p99_ms": ms(percentile(seq, 99)),
        "forward_p50_ms": ms(forward_p50), "overhead_ratio": round(activation_p50 / forward_p50, 3),
        "concurrent_p50_ms": ms(statistics.median(conc)), "concurrent_p99_ms": ms(percentile(conc, 99)),
        "concurrent_rps": round(concurrent_rps, 2),
        "concurrent_tok_ratio": round(CTX_LEN * concurrent_rps / forward_tok_s, 3),
        "search_p50_ms": ms(statistics.median(searches)),
        "steer_tok_s": round(steer_tokens / steer_wall, 1),
        # extras
        "model": args.model, "source": args.source, "feature": index, "tokens_per_text": CTX_LEN,
        "texts": len(texts), "sequential_requests": len(seq), "concurrent_requests": len(conc),
        "concurrency": args.concurrency, "rounds": args.rounds,
        "forward_p99_ms": ms(percentile(fwd, 99)), "forward_tok_s": round(forward_tok_s, 1),
        "forward_batch8_p50_ms": ms(statistics.median(fwd8)), "forward_batch8_tok_s": round(forward8_tok_s, 1),
        "concurrent_tok_s": round(CTX_LEN * concurrent_rps, 1),
        "concurrent_tok_ratio_batch8": round(CTX_LEN * concurrent_rps / forward8_tok_s, 3),
        "concurrent_rps_rounds": [round(x, 2) for x in rates],
        "search_p99_ms": ms(percentile(searches, 99)), "search_requests": len(searches),
        "steer_requests": args.steer_requests, "steer_n_tokens": args.steer_tokens,
        "steer_tokens": steer_tokens, "steer_s": round(steer_wall, 2),
        "torch_threads": torch.get_num_threads(), "runtime": RUNTIME,
    }


def report(result: dict[str, Any]) -> None:
    print(f"activation (sequential): p50 {result['activation_p50_ms']} ms, p99 {result['activation_p99_ms']} ms "
          f"over {result['sequential_requests']} requests of {CTX_LEN} tokens")
    print(f"bare forward pass:       p50 {result['forward_p50_ms']} ms ({result['forward_tok_s']:.0f} tok/s; a batch "
          f"of 8: {result['forward_batch8_p50_ms']} ms, {result['forward_batch8_tok_s']:.0f} tok/s)  "
          f"overhead ratio {result['overhead_ratio']}")
    print(f"activation ({result['concurrency']} clients): p50 {result['concurrent_p50_ms']} ms, p99 "
          f"{result['concurrent_p99_ms']} ms, {result['concurrent_rps']} req/s ({result['concurrent_tok_s']:.0f} "
          f"tok/s; ratio {result['concurrent_tok_ratio']} to one-text forward, "
          f"{result['concurrent_tok_ratio_batch8']} to batch-of-8 forward)")
    print(f"search-all:              p50 {result['search_p50_ms']} ms, p99 {result['search_p99_ms']} ms")
    print(f"steering:                {result['steer_tok_s']} tok/s (steered + default, {result['steer_tokens']} "
          f"tokens in {result['steer_s']} s)")
    for name, (op, target) in TARGETS.items():
        ok = result[name] <= target if op == "<=" else result[name] >= target
        print(f"  {name} {result[name]} (target {op} {target}): {'met' if ok else 'MISSED'}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default=DEFAULT_MODEL_ID)
    parser.add_argument("--source", default=DEFAULT_SOURCE_ID)
    parser.add_argument("--feature", type=int, default=0, help="feature index of the activation requests")
    parser.add_argument("--requests", type=int, default=100, help="sequential requests (and forward passes)")
    parser.add_argument("--concurrent-requests", type=int, default=200, help="requests of the concurrent clients")
    parser.add_argument("--concurrency", type=int, default=8, help="concurrent clients")
    parser.add_argument("--rounds", type=int, default=4, help="rounds the measurements are split into")
    parser.add_argument("--texts", type=int, default=8, help="different corpus texts")
    parser.add_argument("--search-requests", type=int, default=20)
    parser.add_argument("--steer-requests", type=int, default=4)
    parser.add_argument("--steer-tokens", type=int, default=32, help="new tokens per steering request")
    parser.add_argument("--port", type=int, default=0, help="port of the server (default: a free one)")
    parser.add_argument("--data-dir", type=Path, default=Path(os.environ.get("FEATUREPEDIA_DATA_DIR", "data")),
                        help="data dir with the built source (default: FEATUREPEDIA_DATA_DIR or ./data)")
    parser.add_argument("--build-tokens", type=int, default=0,
                        help="first build the source from this many tokens into a temporary data dir")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-inference-") as tmp_name:
        tmp = Path(tmp_name)
        data_dir = args.data_dir.resolve()
        try:
            if args.build_tokens:
                data_dir = build_small(data_dir, tmp, args.model, args.source, args.build_tokens)
            elif not os.environ.get("FEATUREPEDIA_DATABASE_URL") and not (data_dir / "featurepedia.sqlite3").exists():
                raise BenchError(f"{data_dir} holds no database (featurepedia.sqlite3); build the demo's source "
                                 "with `make demo` (or `featurepedia build --model ... --source ...`), point "
                                 "--data-dir at a data dir that has it, or add --build-tokens 4096")
            # The bench process reads the same data dir (its model cache) as the server.
            os.environ["FEATUREPEDIA_DATA_DIR"] = str(data_dir)
            env = {**os.environ, "FEATUREPEDIA_API_RATE_ANONYMOUS": "0", "FEATUREPEDIA_API_RATE_KEY": "0"}
            if args.build_tokens:
                env["FEATUREPEDIA_DATABASE_URL"] = ""
            with running_server(args.port or free_port(), env, tmp / "serve.log") as url:
                n_features = check_source(url, args.model, args.source, data_dir)
                load = os.getloadavg()[0]
                result = measure(args, url, n_features)
                result["load_average"] = [round(load, 2), round(os.getloadavg()[0], 2)]  # before, after
        except BenchError as err:
            print(f"bench/inference.py: {err}", file=sys.stderr)
            return 2
        except KeyboardInterrupt:  # the server is stopped on the way out
            print("bench/inference.py: interrupted", file=sys.stderr)
            return 130
        except subprocess.CalledProcessError as err:
            print(f"bench/inference.py: {' '.join(err.cmd[1:4])} ... failed with code {err.returncode}",
                  file=sys.stderr)
            return 2
    report(result)
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
