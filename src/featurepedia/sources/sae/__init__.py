"""Sparse autoencoders others trained: SAELens folders, EleutherAI's sparsify folders, and both from the hub.

One source kind, ``sae``; each architecture a SAELens cfg.json can name is one file here and one line below.
:func:`open_sae` tells the format from the files (``sae_weights.safetensors``: SAELens; ``sae.safetensors``:
sparsify) or downloads a hub spec (``saelens:RELEASE/SAE_ID``, ``sparsify:ORG/REPO[/HOOKPOINT]``) first.
SAEs shipped inside the package are found with :func:`shipped_sae`.
"""

from featurepedia.sources.base import register_source_kind
from featurepedia.sources.sae.base import SAESource, open_sae
from featurepedia.sources.sae.jumprelu import JumpReLUSAE
from featurepedia.sources.sae.registry import register_sae_architecture, sae_architecture, sae_architectures
from featurepedia.sources.sae.shipped import shipped_sae, shipped_saes
from featurepedia.sources.sae.sparsify import GroupMaxSAE
from featurepedia.sources.sae.standard import StandardSAE
from featurepedia.sources.sae.topk import TopKSAE

register_sae_architecture("standard", StandardSAE)
register_sae_architecture("topk", TopKSAE)
register_sae_architecture("jumprelu", JumpReLUSAE)

register_source_kind("sae", open_sae)

__all__ = ["GroupMaxSAE", "JumpReLUSAE", "SAESource", "StandardSAE", "TopKSAE", "open_sae",
           "register_sae_architecture", "sae_architecture", "sae_architectures", "shipped_sae", "shipped_saes"]
