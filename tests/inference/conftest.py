"""Sources for the inference tests: MLP neurons and a small random SAE-like source on the tiny models."""

from __future__ import annotations

import pytest
import torch
from torch import Tensor

from featurepedia.lm.model import LanguageModel
from featurepedia.sources.base import Source
from featurepedia.sources.neurons import NeuronSource

TEXTS = ["The quick brown fox jumps over the lazy dog.", "Paris is the capital", "import numpy as np. 0123"]


class RandomSAE(Source):
    """ReLU encoder with random weights (biases set so each feature fires on some tokens, not all)."""

    kind = "test-sae"
    nonnegative = True

    def __init__(self, model: LanguageModel, hook_name: str, n_features: int = 48, seed: int = 1) -> None:
        point = model.hook_point(hook_name)
        d_in = model.hook_width(hook_name)
        super().__init__(f"{point.layer}-res-test", hook_name, d_in, n_features)
        gen = torch.Generator().manual_seed(seed)
        # The tiny models' residual stream has norm ~0.3: this scale gives pre-activations of std ~1.
        self.W_enc = torch.randn(d_in, n_features, generator=gen) * 30 / d_in**0.5  # [d_in, F]
        self.b_enc = -torch.ones(n_features)
        self.W_dec = torch.nn.functional.normalize(torch.randn(n_features, d_in, generator=gen), dim=-1)

    def encode(self, hidden: Tensor) -> Tensor:
        return torch.relu(hidden.float() @ self.W_enc + self.b_enc)

    def decoder_directions(self) -> Tensor:
        return self.W_dec


@pytest.fixture(params=["tiny_llama", "tiny_gpt2"])
def model(request):
    return request.getfixturevalue(request.param)


@pytest.fixture
def neurons(model):
    return NeuronSource(model, 1)


@pytest.fixture
def sae(model):
    return RandomSAE(model, "blocks.1.hook_resid_post")


@pytest.fixture
def sae0(model):
    return RandomSAE(model, "blocks.0.hook_resid_post", seed=2)


@pytest.fixture(params=["neurons", "sae"])
def source(request):
    return request.getfixturevalue(request.param)


def reference_acts(model: LanguageModel, source: Source, ids: list[int]) -> Tensor:
    """[pos, F] the source's activations over one text, one text at a time, through ``run_to``."""
    return source.encode(model.run_to(source.hook_name, torch.tensor([ids])))[0].float()
