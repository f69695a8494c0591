"""The command line sets the numeric libraries' process settings before torch loads, keeping the user's."""

from __future__ import annotations

import os
import subprocess
import sys

from featurepedia import runtime


def test_configure_sets_defaults_and_keeps_what_the_user_set(monkeypatch):
    monkeypatch.delenv("OMP_WAIT_POLICY", raising=False)
    monkeypatch.setenv("TOKENIZERS_PARALLELISM", "true")
    assert runtime.configure() == {"OMP_WAIT_POLICY": "PASSIVE", "TOKENIZERS_PARALLELISM": "true"}


def test_the_command_applies_them_before_torch_is_imported():
    code = ("import contextlib, io, os, sys\n"
            "from featurepedia import cli\n"
            "with contextlib.redirect_stdout(io.StringIO()), contextlib.suppress(SystemExit):\n"
            "    cli.main(['--help'])\n"
            "assert 'torch' not in sys.modules, 'torch loaded before the settings'\n"
            "print(os.environ['OMP_WAIT_POLICY'])")
    env = {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    assert out.stdout.strip() == "PASSIVE"
