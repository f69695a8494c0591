"""Lighthouse scores (performance, accessibility, best practices, SEO) of the home, a feature page, the Vote
puzzle and the daily puzzle, with Lighthouse's mobile settings (its default: a phone-sized screen, a slow
CPU and network) and its desktop preset.

Runs Lighthouse (npm package `lighthouse`, installed on first use under DATA_DIR/tools/lighthouse) with
Debian's Chromium (CHROME_PATH) headless, against `featurepedia serve` started here on a free port (or
--url of a running site). Prints one JSON object as its last line: {"mobile": {page: {category: score}},
"desktop": {...}}.

    python bench/lighthouse.py [--url http://127.0.0.1:3000] [--feature /smollm2-135m/6-mlp/0] [--only mobile]
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from featurepedia.settings import DEFAULT_MODEL_ID, DEFAULT_SOURCE_ID

ROOT = Path(__file__).resolve().parents[1]
CHROME_FLAGS = ("--headless --no-sandbox --disable-gpu --disable-quic --no-first-run --disable-background-networking "
                "--disable-component-update --disable-sync")
CATEGORIES = ["performance", "accessibility", "best-practices", "seo"]
# Lighthouse's own settings: its default emulates a phone; `--preset=desktop` a desktop screen and network.
PRESETS = {"mobile": [], "desktop": ["--preset=desktop"]}


def lighthouse_bin(data_dir: Path) -> Path:
    """The lighthouse CLI, installed with npm into the data dir if it is not there yet."""
    prefix = data_dir / "tools" / "lighthouse"
    binary = prefix / "node_modules" / ".bin" / "lighthouse"
    if not binary.exists():
        prefix.mkdir(parents=True, exist_ok=True)
        subprocess.run(["npm", "install", "--no-audit", "--no-fund", "--prefix", str(prefix), "lighthouse@12"],
                       check=True)
    return binary


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(port: int) -> subprocess.Popen:
    server = subprocess.Popen([str(ROOT / ".venv/bin/featurepedia"), "serve", "--port", str(port)], cwd=ROOT,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(100):
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2)
            return server
        except OSError:
            time.sleep(0.2)
    server.terminate()
    raise SystemExit("featurepedia serve did not start; is the database migrated (featurepedia demo)?")


def resolve(url: str) -> str:
    """Follow redirects (/play/ -> a puzzle) so Lighthouse audits the page itself."""
    with urllib.request.urlopen(url, timeout=30) as response:
        return response.geturl()


def audit(binary: Path, url: str, preset: str = "mobile") -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "report.json"
        subprocess.run([str(binary), url, *PRESETS[preset], "--quiet", "--output=json", f"--output-path={out}",
                        f"--only-categories={','.join(CATEGORIES)}", f"--chrome-flags={CHROME_FLAGS}"],
                       check=True, env={**os.environ, "CHROME_PATH": os.environ.get("CHROME_PATH", "/usr/bin/chromium")})
        report = json.loads(out.read_text())
    for c in CATEGORIES[1:]:  # what cost points outside performance, so it can be fixed
        for ref in report["categories"][c]["auditRefs"]:
            found = report["audits"][ref["id"]]
            if ref["weight"] and found.get("score") is not None and found["score"] < 1:
                print(f"  {preset} {c}: {ref['id']}: {found['title']}", file=sys.stderr)
    return {c: report["categories"][c]["score"] for c in CATEGORIES}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", help="a running site; default: start `featurepedia serve` on a free port")
    parser.add_argument("--feature", default=f"/{DEFAULT_MODEL_ID}/{DEFAULT_SOURCE_ID}/0",
                        help="path of the feature page to audit")
    parser.add_argument("--only", choices=sorted(PRESETS), help="one of the two settings (default: both)")
    args = parser.parse_args()
    data_dir = Path(os.environ.get("FEATUREPEDIA_DATA_DIR", ROOT / "data"))
    binary = lighthouse_bin(data_dir)
    server = None
    base = args.url
    if base is None:
        port = free_port()
        server = start_server(port)
        base = f"http://127.0.0.1:{port}"
    try:
        pages = {"home": base + "/", "feature": base + args.feature, "game": resolve(base + "/play/"),
                 "daily": resolve(base + "/daily/")}
        results: dict[str, dict[str, dict[str, float]]] = {}
        for preset in [args.only] if args.only else list(PRESETS):
            results[preset] = {}
            for name, url in pages.items():
                results[preset][name] = audit(binary, url, preset)
                print(f"{preset} {name}: {url} {results[preset][name]}", file=sys.stderr)
    finally:
        if server is not None:
            server.terminate()
            server.wait(timeout=10)
    print(json.dumps(results))


if __name__ == "__main__":
    main()
