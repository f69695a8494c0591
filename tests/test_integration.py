"""Integration on the real embedded model (SmolLM2-135M-Instruct): marked slow, run by `make test`."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from featurepedia.corpus import ContextSpec
from featurepedia.dashboards import ParquetSink, RunConfig, read_features, read_run, run_dashboards
from featurepedia.sources import source_for

pytestmark = pytest.mark.slow


def test_next_token_sanity(real_model):
    ids = torch.tensor([real_model.to_tokens("The capital of France is", prepend_bos=False)])
    probs = real_model.logits(ids)[0, -1].softmax(-1)
    assert real_model.tokenizer.decode([int(probs.argmax())]) == " Paris"
    assert float(probs.max()) > 0.5
    ids = torch.tensor([real_model.to_tokens("import numpy as", prepend_bos=False)])
    assert real_model.tokenizer.decode([int(real_model.logits(ids)[0, -1].argmax())]) == " np"


def test_shapes_of_the_default_model(real_model):
    assert (real_model.n_layers, real_model.d_model, real_model.d_mlp, real_model.vocab_size) == (30, 576, 1536, 49152)
    assert real_model.info["loader"] == "embedded"


def test_partial_utf8_tokens_are_readable(real_model):
    shown = real_model.display(real_model.to_tokens("Tokyo is 東京 in Japanese", prepend_bos=False))
    assert all("\ufffd" not in t.text for t in shown)
    assert any(t.is_partial and "東" in t.text for t in shown)


@pytest.fixture(scope="module")
def real_build(real_model, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("real")
    config = RunConfig(model="smollm2-135m", source="6-mlp", n_tokens=64 * 64, batch_size=32,
                       contexts=ContextSpec(ctx_len=64, seed=0))
    run_dashboards(real_model, source_for(real_model, "6-mlp"), config, ParquetSink(tmp / "b"), tmp / "run",
                   progress=False)
    return tmp / "b"


def test_real_build_covers_every_neuron(real_build):
    features = [f for chunk in read_features(real_build) for f in chunk]
    run = read_run(real_build)
    assert len(features) == 1536 and run.n_contexts == 64
    assert all(len([e for e in f.examples if e.bin == "top"]) == 20 for f in features)
    assert all(0 < f.density < 1 for f in features[:100])
    assert all(len(f.top_logits) == 10 and len(f.neighbours) == 10 for f in features)


def test_stored_top_example_reproduces_live(real_build, real_model):
    features = {f.index: f for chunk in read_features(real_build) for f in chunk}
    for index in (0, 100, 1535):
        example = next(e for e in features[index].examples if e.bin == "top" and e.rank == 0)
        live = real_model.run_to("blocks.6.mlp.hook_post", torch.tensor([example.token_ids]))[0, :, index]
        np.testing.assert_allclose(example.values[1:], live[1:].numpy(), rtol=1e-3, atol=2e-4)
        assert example.max_index == int(live[1:].argmax()) + 1
