"""Process-wide settings of the numeric libraries: applied by the command line before torch is imported.

- ``OMP_WAIT_POLICY=PASSIVE``: torch's OpenMP threads sleep as soon as a parallel operation ends instead of
  spinning for a while. A dashboards run does its own work between forward passes on threads of its own
  (compiled kernels split by features); spinning OpenMP threads took their cores (measured: the
  per-batch accumulator work took 28-31 ms with spinning threads, 17-19 ms without, while the forward
  pass showed no slowdown beyond this machine's noise). OpenMP reads it once, when torch loads.
- ``TOKENIZERS_PARALLELISM=false``: the tokenizer runs on a prefetch thread; its own thread pool would
  only compete with the forward pass.

A value the user has set is kept.
"""

from __future__ import annotations

import os

DEFAULTS = {"OMP_WAIT_POLICY": "PASSIVE", "TOKENIZERS_PARALLELISM": "false"}


def configure() -> dict[str, str]:
    """Set the defaults that are not set yet; returns the values in effect."""
    for name, value in DEFAULTS.items():
        os.environ.setdefault(name, value)
    return {name: os.environ[name] for name in DEFAULTS}
