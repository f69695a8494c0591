"""SAEs shipped inside the package, in SAELens format: ``sources/sae/data/<model id>/<source id>/``.

Each folder holds ``cfg.json`` and ``sae_weights.safetensors`` (as every SAELens folder), plus the
``training.json`` and ``eval.json`` that ``train-sae`` and ``eval-sae`` write. ``featurepedia demo`` builds
the dashboards of every SAE shipped for its model.
"""

from __future__ import annotations

import re
from importlib import resources
from pathlib import Path

# Model and source ids that can name a folder here (a model given as a path or hub id never does).
_SLUG = re.compile(r"^[a-z0-9][a-z0-9._-]*$")
REQUIRED = ("cfg.json", "sae_weights.safetensors")


def shipped_root() -> Path:
    """The folder of shipped SAEs (it may not exist: a package can ship none)."""
    return Path(str(resources.files("featurepedia.sources.sae") / "data"))


def shipped_sae(model_id: str, source_id: str) -> Path | None:
    """The shipped SAELens folder of ``model_id``'s source ``source_id`` (e.g. ``smollm2-135m``,
    ``6-res-sae``), or None when the package ships none (or only part of one)."""
    if not (_SLUG.match(model_id) and _SLUG.match(source_id)):
        return None
    folder = shipped_root() / model_id / source_id
    return folder if all((folder / name).is_file() for name in REQUIRED) else None


def shipped_saes(model_id: str) -> dict[str, Path]:
    """Every SAE shipped for ``model_id``, by source id, in id order."""
    if not _SLUG.match(model_id):
        return {}
    folder = shipped_root() / model_id
    if not folder.is_dir():
        return {}
    found = {child.name: shipped_sae(model_id, child.name) for child in sorted(folder.iterdir()) if child.is_dir()}
    return {source_id: path for source_id, path in found.items() if path is not None}
