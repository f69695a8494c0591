"""Sources for the inference tests: MLP neurons and a small random SAE-like source on the tiny models."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

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


class Gate:
    """A source registry that holds the service's worker inside the lookup of source '0-mlp' until opened,
    so a test can fill the queue behind a busy worker. Other sources resolve as neurons at once."""

    def __init__(self) -> None:
        self.entered = threading.Event()
        self.opened = threading.Event()

    def __call__(self, model_id: str, source_id: str) -> None:
        if source_id == "0-mlp" and not self.opened.is_set():
            self.entered.set()
            self.opened.wait(30)

    def open(self) -> None:
        self.opened.set()


@pytest.fixture
def gate():
    g = Gate()
    yield g
    g.open()


@pytest.fixture
def make_service(gate):
    """Services on the pool's tiny-gpt2 with the gate as their registry; closed after the test."""
    from featurepedia.inference.service import InferenceService

    made = []

    def make(**options):
        service = InferenceService(options.pop("model_id", "tiny-gpt2"), source_path=gate, **options)
        made.append(service)
        return service

    yield make
    gate.open()
    for service in made:
        service.close()


@contextmanager
def count_passes(model: LanguageModel) -> Iterator[list[int]]:
    """Counts the forward passes that reach the model's first block."""
    calls: list[int] = []
    handle = model.blocks[0].register_forward_pre_hook(lambda module, args: calls.append(1))
    try:
        yield calls
    finally:
        handle.remove()


def wait_until(condition, timeout_s: float = 10.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting for the condition")
        time.sleep(0.005)
