"""Sources name the device and dtype they compute on: the base class's default and the neurons' model."""

from __future__ import annotations

import torch
from torch import Tensor

from featurepedia.lm import tiny
from featurepedia.sources import source_for
from featurepedia.sources.base import Source


class _Identity(Source):
    kind = "test"

    def encode(self, hidden: Tensor) -> Tensor:
        return hidden

    def decoder_directions(self) -> Tensor:
        return torch.eye(self.n_features)


def test_a_source_computes_in_float32_on_the_cpu_unless_it_says_otherwise():
    source = _Identity("0-test", "blocks.0.hook_resid_post", 4, 4)
    assert source.device == torch.device("cpu") and source.dtype == torch.float32


def test_neurons_are_where_and_what_their_model_is(tiny_gpt2):
    neurons = source_for(tiny_gpt2, "1-mlp")
    assert neurons.device == tiny_gpt2.device == torch.device("cpu")
    assert neurons.dtype == tiny_gpt2.dtype == torch.float32


def test_neurons_of_a_bfloat16_model():
    model = tiny.tiny_gpt2(dtype=torch.bfloat16)
    assert model.dtype == torch.bfloat16
    neurons = source_for(model, "0-mlp")
    assert neurons.dtype == torch.bfloat16
    directions = neurons.decoder_directions()
    assert directions.dtype == torch.bfloat16 and directions.shape == (model.d_mlp, model.d_mlp)
    assert torch.equal(directions.float(), torch.eye(model.d_mlp))
