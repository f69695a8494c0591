"""A dashboards pass's resumable state on disk: one safetensors file, the run's fingerprint in its header.

safetensors holds only arrays and a header of strings, so reading a checkpoint cannot run code: a pickle
(what ``torch.save`` writes) runs whatever a file dropped in the data folder asks for when it is loaded.
"""

from __future__ import annotations

import os
from pathlib import Path

from safetensors import SafetensorError, safe_open
from safetensors.torch import load_file, save_file
from torch import Tensor

from featurepedia.errors import FeaturepediaError

CHECKPOINT = "checkpoint.safetensors"
# The layout and meaning of the state. 2: sampling keys hashed from global context ids, banded samples,
# exact histogram bins (format 1, keys drawn per batch, would mix two sampling schemes in one result).
FORMAT = "2"


class CheckpointError(FeaturepediaError, ValueError):
    """A run folder holds a checkpoint that cannot be read."""


def save_checkpoint(run_dir: Path, fingerprint: str, state: dict[str, Tensor]) -> None:
    """Write the state atomically (a crash mid-write leaves the previous checkpoint intact)."""
    path = run_dir / CHECKPOINT
    tmp = path.with_name(path.name + ".tmp")
    save_file({name: t.contiguous() for name, t in state.items()}, str(tmp),
              metadata={"fingerprint": fingerprint, "format": FORMAT})
    os.replace(tmp, path)


def load_checkpoint(run_dir: Path, fingerprint: str) -> dict[str, Tensor] | None:
    """The saved state, or None when there is none, or it belongs to another config (fingerprint) or to
    another format (:func:`stale_reason` says which)."""
    path = run_dir / CHECKPOINT
    if not path.exists():
        return None
    try:
        if stale_reason(run_dir, fingerprint) is not None:
            return None
        state = load_file(str(path))
    except (SafetensorError, OSError, ValueError) as err:
        raise CheckpointError(f"{path} is not a readable checkpoint ({err}); delete it to start the run afresh"
                              ) from None
    # Own, writable memory: the kernels update these arrays in place.
    return {name: t.clone() for name, t in state.items()}


def stale_reason(run_dir: Path, fingerprint: str) -> str | None:
    """Why the run folder's checkpoint cannot be resumed with this config (None when it can, or there is
    none): it is of another config, or written by another version of the pass."""
    path = run_dir / CHECKPOINT
    if not path.exists():
        return None
    try:
        with safe_open(str(path), framework="pt") as f:
            header = f.metadata() or {}
    except (SafetensorError, OSError, ValueError) as err:
        raise CheckpointError(f"{path} is not a readable checkpoint ({err}); delete it to start the run afresh"
                              ) from None
    if header.get("fingerprint") != fingerprint:
        return "it is for another config"
    if header.get("format", "1") != FORMAT:
        return (f"it was written by an older version of the pass (checkpoint format {header.get('format', '1')}, "
                f"now {FORMAT}), whose samples cannot be continued exactly")
    return None
