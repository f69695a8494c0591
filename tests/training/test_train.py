"""SAE training: SAELens's trainer on our activations, the sparse TopK pass, checkpoints and resuming."""

from __future__ import annotations

import json

import pytest
import torch
from safetensors.torch import load_file

from featurepedia.corpus import ContextSpec, context_batches, iter_contexts
from featurepedia.corpus.contexts import part_of, shuffled_documents
from featurepedia.training.activations import (
    ActivationCacheError,
    ActivationSpec,
    CachedActivations,
    StreamingActivations,
    build_cache,
    rebatch,
)
from featurepedia.training.train import (
    SAETrainingError,
    TrainSettings,
    checkpoints,
    sparse_topk_class,
    to_fp16,
    train_sae,
)

HOOK = "blocks.1.hook_resid_post"


def settings(**kw):
    base = dict(model_id="tiny-gpt2", hook=HOOK, d_sae=128, k=8, tokens=12_288, batch_size=512, ctx_len=32,
                checkpoint_every=4096, lr_warm_up_steps=5, autocast=False, norm_batches=4)
    return TrainSettings(**{**base, **kw})


def test_sparse_topk_pass_equals_saelens_dense_pass():
    from sae_lens import TopKTrainingSAE, TopKTrainingSAEConfig
    from sae_lens.saes.sae import TrainStepInput

    cfg = TopKTrainingSAEConfig(d_in=32, d_sae=96, k=6, dtype="float32", device="cpu", decoder_init_norm=0.1)
    dense = TopKTrainingSAE(cfg)
    with torch.no_grad():
        dense.b_dec.normal_()
        dense.b_enc.normal_(std=0.1)
    sparse = sparse_topk_class()(cfg)
    sparse.load_state_dict(dense.state_dict())
    x = torch.randn(200, 32)
    dead = torch.zeros(96, dtype=torch.bool)
    dead[::3] = True
    outs = []
    for sae in (dense, sparse):
        out = sae.training_forward_pass(TrainStepInput(sae_in=x, dead_neuron_mask=dead, coefficients={},
                                                       n_training_steps=0, is_logging_step=False))
        out.loss.backward()
        outs.append((out, {n: p.grad.clone() for n, p in sae.named_parameters()}))
    (a, grads_a), (b, grads_b) = outs
    for name in ("mse_loss", "auxiliary_reconstruction_loss"):
        assert a.losses[name].item() > 0
        assert b.losses[name].item() == pytest.approx(a.losses[name].item(), rel=1e-5)
    torch.testing.assert_close(b.feature_acts, a.feature_acts)
    for name, grad in grads_a.items():
        torch.testing.assert_close(grads_b[name], grad, rtol=1e-4, atol=1e-5)


def test_training_lowers_the_loss_and_writes_a_folder_saelens_loads(tiny_gpt2, data_dir, tmp_path):
    from sae_lens import SAE

    from featurepedia.sources.sae import open_sae
    from featurepedia.training.activations import record

    seen = []
    out = train_sae(tiny_gpt2, settings(tokens=40_960, lr=2e-3), tmp_path / "sae", progress=seen.append, show_bar=False)
    assert seen[-1]["loss"] < 0.75 * seen[0]["loss"]
    assert seen[-1]["fve"] > seen[0]["fve"]
    assert seen[-1]["l0"] <= 8
    cfg = json.loads((out / "cfg.json").read_text())
    assert (cfg["architecture"], cfg["d_in"], cfg["d_sae"], cfg["k"]) == ("topk", 64, 128, 8)
    assert cfg["metadata"]["hook_name"] == HOOK
    theirs = SAE.load_from_disk(str(out), device="cpu")
    ours = open_sae(tiny_gpt2, out)
    batch = next(context_batches(iter_contexts(tiny_gpt2.tokenizer, ContextSpec(ctx_len=32), 4), 4))
    x = record(tiny_gpt2, HOOK, batch, skip_bos=True)
    torch.testing.assert_close(ours.encode(x), theirs.encode(x), rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(ours.reconstruct(x), theirs.decode(theirs.encode(x)), rtol=1e-4, atol=1e-4)
    half = to_fp16(out, tmp_path / "fp16")
    assert all(t.dtype == torch.float16 for t in load_file(str(half / "sae_weights.safetensors")).values())
    small = open_sae(tiny_gpt2, half)
    full, halved = ours.reconstruct(x), small.reconstruct(x)
    assert ((halved - full).norm() / full.norm()).item() < 0.01
    assert SAE.load_from_disk(str(half), device="cpu").cfg.d_sae == 128


@pytest.mark.parametrize("cached", [False, True], ids=["streamed", "cached"])
def test_an_interrupted_run_resumes_to_the_uninterrupted_result(tiny_gpt2, data_dir, tmp_path, cached):
    kw = {"cache_dir": str(tmp_path / "cache"), "cache_tokens": 6_000} if cached else {}
    whole = train_sae(tiny_gpt2, settings(**kw), tmp_path / "whole", show_bar=False)
    parted = tmp_path / "parted"
    train_sae(tiny_gpt2, settings(**kw), parted, stop_after=5_000, show_bar=False)
    assert not (parted / "cfg.json").exists()
    assert [int(p.name) for p in checkpoints(parted)][-1] == 5_120  # ten steps of 512
    train_sae(tiny_gpt2, settings(**kw), parted, show_bar=False)
    a = load_file(str(whole / "sae_weights.safetensors"))
    b = load_file(str(parted / "sae_weights.safetensors"))
    assert a.keys() == b.keys()
    for name in a:
        torch.testing.assert_close(b[name], a[name], rtol=0, atol=0)


def test_resuming_with_other_settings_is_refused(tiny_gpt2, data_dir, tmp_path):
    train_sae(tiny_gpt2, settings(), tmp_path / "run", stop_after=2048, show_bar=False)
    with pytest.raises(SAETrainingError, match=r"k: 8 there, 4 now"):
        train_sae(tiny_gpt2, settings(k=4), tmp_path / "run", show_bar=False)
    train_sae(tiny_gpt2, settings(k=4, tokens=2048), tmp_path / "run", restart=True, show_bar=False)
    assert json.loads((tmp_path / "run" / "cfg.json").read_text())["k"] == 4


def test_bad_settings_are_refused():
    with pytest.raises(ValueError, match="--k must be between 1 and --d-sae"):
        settings(k=500)
    with pytest.raises(ValueError, match="--architecture 'gated'"):
        settings(architecture="gated")
    with pytest.raises(ValueError, match="--tokens >= the batch size"):
        settings(tokens=100)


def test_streamed_batches_from_an_offset_equal_the_stream_from_the_start(tiny_gpt2):
    spec = ActivationSpec("tiny-gpt2", HOOK, ContextSpec(ctx_len=16), part="train")
    stream = StreamingActivations(tiny_gpt2, spec, batch_size=100, seed=3, chunk_contexts=20)
    full = torch.cat([b for b, _ in zip(stream, range(12), strict=False)])
    later = StreamingActivations(tiny_gpt2, spec, batch_size=100, seed=3, chunk_contexts=20, start=700)
    rest = torch.cat([b for b, _ in zip(later, range(5), strict=False)])
    torch.testing.assert_close(rest, full[700:1200])
    assert full.shape == (1200, 64)
    assert not torch.equal(full[:300], full[300:600])


def test_the_cache_resumes_is_reused_across_epochs_and_refuses_another_run(tiny_gpt2, tmp_path):
    spec = ActivationSpec("tiny-gpt2", HOOK, ContextSpec(ctx_len=16), part="train")
    cache = build_cache(tiny_gpt2, spec, tmp_path / "c", max_tokens=3000, chunk_contexts=50)
    meta = json.loads((cache / "cache.json").read_text())
    assert meta["complete"] and meta["n_tokens"] == 200 * 15
    provider = CachedActivations(cache, batch_size=1000, seed=1)
    epochs = [b for b, _ in zip(provider, range(6), strict=False)]
    first, second = torch.cat(epochs[:3]), torch.cat(epochs[3:])
    torch.testing.assert_close(first.sort(dim=0).values, second.sort(dim=0).values)  # same samples
    assert not torch.equal(first, second)  # in a new order
    other = ActivationSpec("tiny-gpt2", "blocks.0.hook_resid_post", ContextSpec(ctx_len=16), part="train")
    with pytest.raises(ActivationCacheError, match="was made for spec="):
        build_cache(tiny_gpt2, other, tmp_path / "c", max_tokens=3000)


def test_rebatch_keeps_every_sample_in_order():
    pieces = [torch.arange(n, dtype=torch.float32)[:, None] + 100 * i for i, n in enumerate([7, 3, 12, 5])]
    batches = list(rebatch(iter(pieces), 4))
    assert [b.shape[0] for b in batches] == [4] * 6
    torch.testing.assert_close(torch.cat(batches), torch.cat(pieces)[:24])


def test_the_held_out_part_is_a_quarter_of_documents_and_disjoint():
    spec = ContextSpec()
    train = set(shuffled_documents(spec, "train"))
    held = set(shuffled_documents(spec, "heldout"))
    assert not train & held
    assert 0.2 < len(held) / (len(train) + len(held)) < 0.3
    assert all(part_of(doc) == "heldout" for doc in list(held)[:50])
