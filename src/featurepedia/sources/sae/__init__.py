"""Sparse autoencoders in SAELens's on-disk format (``cfg.json`` + ``sae_weights.safetensors``).

One source kind, ``sae``; each architecture cfg.json can name is one file here and one line below. SAEs
shipped inside the package are found with :func:`shipped_sae`.
"""

from featurepedia.sources.base import register_source_kind
from featurepedia.sources.sae.base import SAESource, open_sae
from featurepedia.sources.sae.jumprelu import JumpReLUSAE
from featurepedia.sources.sae.registry import register_sae_architecture, sae_architecture, sae_architectures
from featurepedia.sources.sae.shipped import shipped_sae, shipped_saes
from featurepedia.sources.sae.standard import StandardSAE
from featurepedia.sources.sae.topk import TopKSAE

register_sae_architecture("standard", StandardSAE)
register_sae_architecture("topk", TopKSAE)
register_sae_architecture("jumprelu", JumpReLUSAE)

register_source_kind("sae", open_sae)

__all__ = ["JumpReLUSAE", "SAESource", "StandardSAE", "TopKSAE", "open_sae", "register_sae_architecture",
           "sae_architecture", "sae_architectures", "shipped_sae", "shipped_saes"]
