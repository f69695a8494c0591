"""Live inference for the research tools: pure torch, no Django.

Every function takes a loaded :class:`~featurepedia.lm.model.LanguageModel` and
:class:`~featurepedia.sources.base.Source` objects (from the model pool) and goes through the model's hook
points and ``Source.encode`` / ``Source.decoder_directions``. They attach hooks to the shared model for the
duration of a call, so a model must be used by one thread at a time (the service's worker). See
docs/inference.md for definitions and limits.
"""

from featurepedia.inference.activations import (
    ActivationRequest,
    FeatureValues,
    TextActivations,
    activations,
    batch_activations,
)
from featurepedia.inference.attribution import Attribution, ablation_attribution, gradient_attribution
from featurepedia.inference.generation import Generation, Sampling, TokenLogprob, TopLogprob
from featurepedia.inference.limits import DEFAULT_LIMITS, Limits
from featurepedia.inference.steering import SteerFeature, SteerResult, generate, steer, steer_chat
from featurepedia.inference.top_features import (
    TokenTopK,
    TopFeature,
    TopFeatures,
    TopKByToken,
    top_features,
    top_features_of_sources,
    topk_by_token,
)

__all__ = [
    "DEFAULT_LIMITS", "ActivationRequest", "Attribution", "FeatureValues", "Generation", "Limits",
    "Sampling", "SteerFeature", "SteerResult", "TextActivations", "TokenLogprob", "TokenTopK", "TopFeature",
    "TopFeatures", "TopKByToken", "TopLogprob", "ablation_attribution", "activations", "batch_activations",
    "generate", "gradient_attribution", "steer", "steer_chat", "top_features", "top_features_of_sources",
    "topk_by_token",
]
