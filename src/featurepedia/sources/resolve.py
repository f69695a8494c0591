"""From a Neuronpedia-style source id (``6-mlp``, ``6-res-sae``) to a Source object."""

from __future__ import annotations

import re
from pathlib import Path

from featurepedia.lm.model import LanguageModel
from featurepedia.sources.base import Source, SourceError, build_source

_ID = re.compile(r"^(\d+)-([a-z0-9][a-z0-9-]*)$")


def parse_source_id(source_id: str) -> tuple[int, str]:
    """Split ``6-mlp`` into (6, "mlp"); raise SourceError for a malformed id."""
    match = _ID.match(source_id)
    if not match:
        raise SourceError(f"source id {source_id!r} is not of the form '<layer>-<set>', e.g. '6-mlp' "
                          "(MLP neurons of layer 6) or '6-res-sae' (an SAE, with --sae PATH)")
    return int(match.group(1)), match.group(2)


def source_for(model: LanguageModel, source_id: str, sae_path: str | Path | None = None,
               hook_name: str | None = None) -> Source:
    """Build the source a CLI user means by ``source_id`` (and ``--sae PATH`` for SAEs).

    Args:
        sae_path: a SAELens or sparsify folder, or a hub spec (``saelens:RELEASE/SAE_ID``,
            ``sparsify:ORG/REPO[/HOOKPOINT]``); see :func:`featurepedia.sources.sae.open_sae`.
    """
    layer, kind = parse_source_id(source_id)
    if sae_path is not None:
        default = (f"blocks.{layer}.mlp.hook_post" if kind.startswith("mlp")
                   else f"blocks.{layer}.hook_resid_post")
        return build_source("sae", model=model, path=sae_path, source_id=source_id, hook_name=hook_name,
                            default_hook=default)
    if kind == "mlp":
        return build_source("neurons", model=model, layer=layer)
    raise SourceError(f"source {source_id!r} needs weights: pass --sae PATH (a SAELens or sparsify folder, or "
                      "saelens:RELEASE/SAE_ID or sparsify:ORG/REPO[/HOOKPOINT] from the hub), or use "
                      f"'{layer}-mlp' for the MLP neurons of layer {layer}")
