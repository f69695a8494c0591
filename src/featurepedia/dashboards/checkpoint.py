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


class CheckpointError(FeaturepediaError, ValueError):
    """A run folder holds a checkpoint that cannot be read."""


def save_checkpoint(run_dir: Path, fingerprint: str, state: dict[str, Tensor]) -> None:
    """Write the state atomically (a crash mid-write leaves the previous checkpoint intact)."""
    path = run_dir / CHECKPOINT
    tmp = path.with_name(path.name + ".tmp")
    save_file({name: t.contiguous() for name, t in state.items()}, str(tmp), metadata={"fingerprint": fingerprint})
    os.replace(tmp, path)


def load_checkpoint(run_dir: Path, fingerprint: str) -> dict[str, Tensor] | None:
    """The saved state, or None when there is none or it belongs to another config (fingerprint)."""
    path = run_dir / CHECKPOINT
    if not path.exists():
        return None
    try:
        with safe_open(str(path), framework="pt") as f:
            saved = (f.metadata() or {}).get("fingerprint")
        if saved != fingerprint:
            return None
        state = load_file(str(path))
    except (SafetensorError, OSError, ValueError) as err:
        raise CheckpointError(f"{path} is not a readable checkpoint ({err}); delete it to start the run afresh"
                              ) from None
    # Own, writable memory: the kernels update these arrays in place.
    return {name: t.clone() for name, t in state.items()}
