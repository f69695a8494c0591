"""SAEs others published on the Hugging Face hub, downloaded once into the data dir and then read locally.

Two spellings of an SAE's ``path`` name one (anything else is a local folder):

* ``saelens:RELEASE/SAE_ID``: an SAE of SAELens's pretrained directory (its ``pretrained_saes.yaml``),
  e.g. ``saelens:gpt2-small-res-jb/blocks.8.hook_resid_pre``. RELEASE is the text before the first ``/``
  (no release name has one); SAE_ID is the rest, slashes included
  (``saelens:gemma-scope-2b-pt-res-canonical/layer_12/width_16k/canonical``). SAELens's own loader
  (``SAE.from_pretrained``, with each release's converter) downloads and converts it; it is saved with
  ``save_model`` into ``{data dir}/saes/saelens/RELEASE/SAE_ID``, a SAELens folder.
* ``sparsify:ORG/REPO[/HOOKPOINT]``: one hook point's folder of a hub repo in EleutherAI's sparsify format,
  e.g. ``sparsify:EleutherAI/sae-llama-3-8b-32x/layers.10``; without HOOKPOINT it is the folder for the
  source's hook point (``layers.6`` for ``6-res-...`` on a Llama-style model). Only that folder is
  downloaded, into ``{data dir}/saes/sparsify/ORG/REPO/HOOKPOINT``.

A downloaded SAE is read from the data dir from then on, offline too. Not yet downloaded while the hub is
offline (``HF_HUB_OFFLINE``, as on machines without internet), it is an :class:`UnavailableError` that says
it needs internet or a local folder; nothing tries the network then.
"""

from __future__ import annotations

import difflib
import json
import os
import shutil
from pathlib import Path
from typing import Any

from featurepedia.errors import UnavailableError
from featurepedia.lm.model import LanguageModel
from featurepedia.sources.base import SourceError

PREFIXES = ("saelens:", "sparsify:")
_LOCAL = ("or pass a local folder instead: a SAELens folder (cfg.json + sae_weights.safetensors) or a sparsify "
          "folder (cfg.json + sae.safetensors)")


def is_spec(path: str) -> bool:
    """Whether ``path`` names a hub SAE (``saelens:...``, ``sparsify:...``) rather than a local folder."""
    return path.startswith(PREFIXES)


def cache_root() -> Path:
    """Where downloaded SAEs are kept: ``{data dir}/saes``."""
    from featurepedia.settings import get_settings

    return get_settings().data_dir / "saes"


def hub_offline() -> bool:
    """Whether the Hugging Face hub is switched off (``HF_HUB_OFFLINE``, read now and when the hub loaded)."""
    from huggingface_hub import constants

    now = os.environ.get("HF_HUB_OFFLINE", "").strip().upper() in {"1", "ON", "YES", "TRUE"}
    return bool(constants.HF_HUB_OFFLINE) or now


def fetch(spec: str, model: LanguageModel, hook: str | None) -> Path:
    """The local folder holding the SAE ``spec`` names, downloading it first when it is not there yet.

    Args:
        hook: the hook point the source reads, for a sparsify spec that names no hook point folder.
    """
    if spec.startswith("saelens:"):
        release, sae_id = parse_saelens(spec)
        return fetch_saelens(spec, release, sae_id)
    repo, hookpoint = parse_sparsify(spec)
    if hookpoint is None:
        if hook is None:
            raise SourceError(f"{spec} names no hook point folder; add it (e.g. {spec}/layers.6) or give a "
                              "source id such as 6-res-sae")
        from featurepedia.sources.sae.sparsify import hookpoint_of

        hookpoint = hookpoint_of(model, hook)
    return fetch_sparsify(spec, repo, hookpoint)


def parse_saelens(spec: str) -> tuple[str, str]:
    """``saelens:RELEASE/SAE_ID`` as (release, SAE id); SourceError for another shape."""
    release, _, sae_id = spec.removeprefix("saelens:").partition("/")
    if not release or not sae_id:
        raise SourceError(f"{spec!r} is not of the form saelens:RELEASE/SAE_ID, e.g. "
                          "saelens:gpt2-small-res-jb/blocks.8.hook_resid_pre")
    _check_parts(spec, [release, *sae_id.split("/")])
    return release, sae_id


def parse_sparsify(spec: str) -> tuple[str, str | None]:
    """``sparsify:ORG/REPO[/HOOKPOINT]`` as (repo id, hook point folder or None); SourceError otherwise."""
    parts = spec.removeprefix("sparsify:").split("/")
    if len(parts) not in (2, 3):
        raise SourceError(f"{spec!r} is not of the form sparsify:ORG/REPO or sparsify:ORG/REPO/HOOKPOINT, e.g. "
                          "sparsify:EleutherAI/sae-llama-3-8b-32x/layers.10")
    _check_parts(spec, parts)
    return "/".join(parts[:2]), (parts[2] if len(parts) == 3 else None)


def fetch_saelens(spec: str, release: str, sae_id: str) -> Path:
    """The SAELens folder of a release's SAE under the data dir, downloaded with SAELens when missing."""
    target = cache_root() / "saelens" / release / sae_id
    if (target / "cfg.json").is_file() and (target / "sae_weights.safetensors").is_file():
        return target
    _check_saelens_directory(spec, release, sae_id)
    if hub_offline():
        raise _offline(spec, target)
    from sae_lens import SAE

    try:
        sae, cfg_dict, _ = SAE.from_pretrained_with_cfg_and_sparsity(release, sae_id, device="cpu",
                                                                     dtype="float32")
    except Exception as err:  # the hub and SAELens's converters raise many kinds; all mean "not downloaded"
        raise _failed(spec, err) from err
    partial = _partial(target)
    for param in sae.parameters():
        param.data = param.data.contiguous()  # safetensors refuses views (some converters transpose)
    sae.save_model(partial)
    cfg_path = partial / "cfg.json"
    saved: dict[str, Any] = json.loads(cfg_path.read_text())
    metadata = saved.setdefault("metadata", {})
    if not metadata.get("hook_name") and cfg_dict.get("hook_name"):
        metadata["hook_name"] = cfg_dict["hook_name"]
    cfg_path.write_text(json.dumps(saved))
    return _publish(partial, target)


def fetch_sparsify(spec: str, repo: str, hookpoint: str) -> Path:
    """One hook point's folder of a sparsify hub repo under the data dir, downloaded when missing."""
    root = cache_root() / "sparsify" / repo
    target = root / hookpoint
    if (target / "cfg.json").is_file() and (target / "sae.safetensors").is_file():
        return target
    if hub_offline():
        raise _offline(spec, target)
    from huggingface_hub import snapshot_download

    try:
        snapshot_download(repo, allow_patterns=[f"{hookpoint}/*"], local_dir=str(root))
    except Exception as err:  # network, authentication or a missing repo: all mean "not downloaded"
        raise _failed(spec, err) from err
    if not ((target / "cfg.json").is_file() and (target / "sae.safetensors").is_file()):
        raise SourceError(f"the hub repo {repo} has no sparsify SAE folder {hookpoint!r} (cfg.json + "
                          "sae.safetensors); its folders are named by hook point, e.g. layers.6: name one "
                          f"with sparsify:{repo}/FOLDER")
    return target


def _check_parts(spec: str, parts: list[str]) -> None:
    for part in parts:
        if part in ("", ".", "..") or "\\" in part:
            raise SourceError(f"{spec!r}: {part!r} is not a valid name part (empty, '.', '..' or a backslash)")


def _check_saelens_directory(spec: str, release: str, sae_id: str) -> None:
    """SourceError unless SAELens's pretrained directory has the release and the SAE id (read offline)."""
    from sae_lens.loading.pretrained_saes_directory import get_pretrained_saes_directory

    directory = get_pretrained_saes_directory()
    if release not in directory:
        close = difflib.get_close_matches(release, list(directory), n=5, cutoff=0.5)
        hint = f"; close ones: {', '.join(close)}" if close else ""
        raise SourceError(f"{spec}: {release!r} is not a release of SAELens's pretrained SAE directory{hint} "
                          "(its pretrained_saes.yaml lists them)")
    ids = list(directory[release].saes_map)
    if sae_id not in ids:
        close = difflib.get_close_matches(sae_id, ids, n=5, cutoff=0.5)
        shown = f"the closest: {', '.join(close)}" if close else f"e.g. {', '.join(ids[:5])}"
        raise SourceError(f"{spec}: release {release} has no SAE id {sae_id!r}; it has {len(ids)}, {shown}")


def _offline(spec: str, target: Path) -> UnavailableError:
    return UnavailableError(
        f"{spec} is not downloaded yet (looked in {target}) and the Hugging Face hub is offline "
        f"(HF_HUB_OFFLINE is set): downloading it needs internet. With internet and HF_HUB_OFFLINE unset it is "
        f"downloaded once and read from there afterwards; {_LOCAL}")


def _failed(spec: str, err: Exception) -> UnavailableError:
    return UnavailableError(f"could not download {spec} from the Hugging Face hub ({type(err).__name__}: {err}); "
                            f"downloading needs internet access; {_LOCAL}")


def _partial(target: Path) -> Path:
    """A fresh folder beside ``target`` to write into, so an interrupted save is never taken for the SAE."""
    partial = target.parent / f".{target.name}.partial-{os.getpid()}"
    shutil.rmtree(partial, ignore_errors=True)
    partial.parent.mkdir(parents=True, exist_ok=True)
    return partial


def _publish(partial: Path, target: Path) -> Path:
    """Move a fully written folder into place (replacing an incomplete one left at ``target``)."""
    if target.exists():
        shutil.rmtree(target)
    os.replace(partial, target)
    return target
