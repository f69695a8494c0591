"""Train a sparse autoencoder on a model's activations with SAELens's trainer; write SAELens's format.

SAELens does the training: its ``SAETrainer`` (Adam, learning-rate warm-up and decay, gradient clipping,
dead-latent tracking, bf16 autocast, checkpoints with the trainer's state), its TopK and JumpReLU training
SAEs (initialisation, the auxiliary loss against dead latents, decoder-norm handling, input normalisation)
and its ``save_inference_model``, so the output folder is what SAELens and Neuronpedia's tools read.

What is ours, and why:

- the activations (:mod:`featurepedia.training.activations`): TransformerLens, which SAELens's own
  activation store drives, cannot load the embedded model from a local folder, while our hook points can;
- :class:`SparseTopKTrainingSAE`, the TopK forward pass computed sparsely: SAELens's dense decode multiplies
  a [batch, d_sae] matrix that is 99% zeros, and its sparse-tensor option fails in backward on CPU
  (``aten::view`` has no SparseCPU kernel in torch 2.13). Gathering the k decoder rows of each token
  (``embedding_bag``) gives the same reconstruction and auxiliary loss about 4x faster on 2 cores;
- checkpoints every ``checkpoint_every`` tokens (the trainer's own are evenly spaced over the run) that
  keep the last two, and the resume from the newest one;
- the progress bar's figures: loss, fraction of variance explained, L0 and the dead fraction.
"""

from __future__ import annotations

import json
import shutil
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor

from featurepedia.corpus import ContextSpec
from featurepedia.errors import FeaturepediaError, UsageError
from featurepedia.lm.model import LanguageModel

ARCHITECTURES = ("topk", "jumprelu")
CHECKPOINTS = "checkpoints"
TRAINING_FILE = "training.json"


class SAETrainingError(FeaturepediaError, ValueError):
    """An SAE training run cannot start or resume as asked."""


def _sae_lens() -> Any:
    try:
        import sae_lens
    except ImportError:
        raise SAETrainingError("training an SAE needs SAELens: pip install 'featurepedia[train]' "
                               "(or pip install sae-lens)") from None
    return sae_lens


@dataclass
class TrainSettings:
    """One training run; saved as training.json beside the SAE and in every checkpoint."""

    model_id: str
    hook: str
    d_sae: int
    k: int = 32
    tokens: int = 50_000_000  # total training tokens, repeats included
    architecture: str = "topk"
    batch_size: int = 4096
    lr: float = 4e-4
    lr_warm_up_steps: int = 500
    lr_decay_fraction: float = 0.2  # the last fifth of the run decays the learning rate linearly to lr_end
    lr_end: float = 0.0
    aux_loss_coefficient: float = 1.0  # SAELens's default
    jumprelu_l0_coefficient: float = 1.0
    dead_feature_window: int = 250  # steps without firing after which a latent counts as dead
    norm_batches: int = 50  # batches that estimate the input scale before training
    seed: int = 0
    ctx_len: int = 128
    corpus: str = "default"
    autocast: bool = True  # bf16 matmuls: about 2.5x faster than fp32 on CPUs with AVX-512 BF16
    checkpoint_every: int = 2_000_000  # tokens
    cache_dir: str | None = None  # an fp16 activation cache several epochs reuse; None streams
    cache_tokens: int | None = None  # tokens the cache holds (None: one whole pass over the training part)

    def __post_init__(self) -> None:
        if self.architecture not in ARCHITECTURES:
            raise UsageError(f"--architecture {self.architecture!r} is not supported; use one of "
                             f"{', '.join(ARCHITECTURES)}")
        if self.d_sae < 1 or self.batch_size < 1 or self.tokens < self.batch_size:
            raise UsageError(f"need --d-sae >= 1 and --tokens >= the batch size ({self.batch_size}); got "
                             f"d_sae={self.d_sae}, tokens={self.tokens}")
        if self.architecture == "topk" and not 0 < self.k <= self.d_sae:
            raise UsageError(f"--k must be between 1 and --d-sae ({self.d_sae}); got {self.k}")

    @property
    def total_steps(self) -> int:
        return self.tokens // self.batch_size

    def identity(self) -> dict[str, Any]:
        """What must match for a checkpoint to be resumed by this run."""
        data = asdict(self)
        data.pop("checkpoint_every")
        return data


# -- the sparse TopK forward pass ----------------------------------------------------------------------

def _sparse_decode(indices: Tensor, values: Tensor, w_dec: Tensor) -> Tensor:
    """sum_j values[:, j] * W_dec[indices[:, j]]: [n, k] x [d_sae, d] -> [n, d], differentiable in both."""
    return F.embedding_bag(indices, w_dec, per_sample_weights=values.to(w_dec.dtype), mode="sum")


def sparse_topk_class() -> type:
    """SAELens's TopKTrainingSAE with a sparse forward pass (built lazily: SAELens is an optional import)."""
    from sae_lens import TopKTrainingSAE
    from sae_lens.saes.sae import TrainStepInput, TrainStepOutput

    class SparseTopKTrainingSAE(TopKTrainingSAE):
        """The same losses as TopKTrainingSAE, with each token's k decoder rows gathered, not a dense matmul."""

        def training_forward_pass(self, step_input: TrainStepInput) -> TrainStepOutput:
            x = step_input.sae_in
            norms = self.W_dec.norm(dim=-1) if self.cfg.rescale_acts_by_decoder_norm else None
            hidden_pre = self._pre(x, norms)
            top = hidden_pre.topk(self.cfg.k, dim=-1)
            values = torch.relu(top.values)
            coef = values / norms[top.indices] if norms is not None else values
            sae_out = _sparse_decode(top.indices, coef, self.W_dec) + self.b_dec
            mse_loss = (sae_out - x.to(sae_out.dtype)).pow(2).sum(dim=-1).mean()
            aux = self._aux_loss(x, sae_out, hidden_pre, norms, step_input.dead_neuron_mask)
            with torch.no_grad():
                feature_acts = torch.zeros_like(hidden_pre, dtype=values.dtype).scatter_(
                    -1, top.indices, values.detach())
            return TrainStepOutput(sae_in=x, sae_out=sae_out, feature_acts=feature_acts,
                                   hidden_pre=hidden_pre, loss=mse_loss + aux,
                                   losses={"mse_loss": mse_loss, "auxiliary_reconstruction_loss": aux})

        def _pre(self, x: Tensor, norms: Tensor | None) -> Tensor:
            # ((x - b_dec) @ W_enc + b_enc) * norms, with b_dec and the norms folded into the [d_in, d_sae]
            # weights: the same values and gradients without two passes over the [batch, d_sae] matrix.
            w, b = self.W_enc, self.b_enc
            if self.cfg.apply_b_dec_to_input:
                b = b - self.b_dec @ w
            if norms is not None:
                w, b = w * norms, b * norms
            return x @ w + b

        def _aux_loss(self, x: Tensor, sae_out: Tensor, hidden_pre: Tensor, norms: Tensor | None,
                      dead: Tensor | None) -> Tensor:
            # SAELens's calculate_topk_aux_loss (k_aux = d_in / 2, scaled down when few latents are dead),
            # over the dead latents' columns only, decoded sparsely.
            if dead is None or (num_dead := int(dead.sum())) == 0:
                return sae_out.new_tensor(0.0)
            residual = (x.to(sae_out.dtype) - sae_out).detach()
            k_aux = x.shape[-1] // 2
            scale = min(num_dead / k_aux, 1.0)
            k_aux = min(k_aux, num_dead)
            dead_idx = dead.nonzero().squeeze(1)
            top = hidden_pre.index_select(1, dead_idx).topk(k_aux, dim=-1, sorted=False)
            indices = dead_idx[top.indices]
            coef = top.values / norms[indices] if norms is not None else top.values
            recons = _sparse_decode(indices, coef, self.W_dec)
            return self.cfg.aux_loss_coefficient * scale * (recons - residual).pow(2).sum(dim=-1).mean()

    return SparseTopKTrainingSAE


def make_training_sae(settings: TrainSettings, d_in: int) -> Any:
    """A fresh training SAE (SAELens config and initialisation) for the run."""
    sae_lens = _sae_lens()
    torch.manual_seed(settings.seed)
    metadata = {"model_name": settings.model_id, "hook_name": settings.hook, "context_size": settings.ctx_len,
                "prepend_bos": True, "dataset_path": settings.corpus}
    if settings.architecture == "topk":
        cfg = sae_lens.TopKTrainingSAEConfig(
            d_in=d_in, d_sae=settings.d_sae, k=settings.k, aux_loss_coefficient=settings.aux_loss_coefficient,
            normalize_activations="expected_average_only_in", dtype="float32", device="cpu",
            decoder_init_norm=0.1)
        cfg.metadata = sae_lens.saes.sae.SAEMetadata(**metadata)
        return sparse_topk_class()(cfg)
    cfg = sae_lens.JumpReLUTrainingSAEConfig(
        d_in=d_in, d_sae=settings.d_sae, l0_coefficient=settings.jumprelu_l0_coefficient,
        normalize_activations="expected_average_only_in", dtype="float32", device="cpu")
    cfg.metadata = sae_lens.saes.sae.SAEMetadata(**metadata)
    return sae_lens.JumpReLUTrainingSAE(cfg)


# -- the trainer ---------------------------------------------------------------------------------------

def _trainer_class() -> type:
    from sae_lens.training.sae_trainer import SAETrainer

    class Trainer(SAETrainer):
        """SAELens's trainer with our checkpoint cadence and progress figures."""

        on_checkpoint: Callable[[Any], None] | None = None
        on_progress: Callable[[dict[str, float]], None] | None = None
        checkpoint_every = 0
        _next_checkpoint = 0

        def _checkpoint_if_needed(self) -> None:
            if self.checkpoint_every and self.n_training_samples >= self._next_checkpoint:
                if self.on_checkpoint is not None:
                    self.on_checkpoint(self)
                self._next_checkpoint = self.n_training_samples + self.checkpoint_every

        @torch.no_grad()
        def _update_pbar(self, step_output: Any, pbar: Any, update_interval: int = 20) -> None:
            if self.n_training_steps % update_interval:
                return
            x, out = step_output.sae_in.float(), step_output.sae_out.float()
            fve = 1.0 - ((x - out).pow(2).sum() / (x - x.mean(0)).pow(2).sum()).item()
            l0 = (step_output.feature_acts > 0).float().sum(-1).mean().item()
            figures = {"loss": step_output.loss.item(), "fve": fve, "l0": l0,
                       "dead": self.dead_neurons.float().mean().item()}
            pbar.set_description(f"step {self.n_training_steps} | loss {figures['loss']:.4f} | fve {fve:.3f} | "
                                 f"L0 {l0:.1f} | dead {figures['dead']:.3f}")
            pbar.update(update_interval * self.cfg.train_batch_size_samples)
            if self.on_progress is not None:
                self.on_progress({"step": self.n_training_steps, "tokens": self.n_training_samples, **figures})

    return Trainer


def checkpoints(out: Path) -> list[Path]:
    """The run's checkpoints, oldest first (named by the number of tokens trained)."""
    folder = out / CHECKPOINTS
    if not folder.is_dir():
        return []
    found = [p for p in folder.iterdir() if p.is_dir() and p.name.isdigit() and (p / "done").is_file()]
    return sorted(found, key=lambda p: int(p.name))


def _save_checkpoint(trainer: Any, out: Path, settings: TrainSettings, keep: int = 2) -> Path:
    from safetensors.torch import save_file

    folder = out / CHECKPOINTS / str(trainer.n_training_samples)
    tmp = folder.with_name(folder.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    save_file({k: v.detach().contiguous() for k, v in trainer.sae.state_dict().items()},
              str(tmp / "sae_weights.safetensors"))
    trainer.save_trainer_state(tmp)
    torch.save({"torch": torch.get_rng_state()}, tmp / "rng.pt")
    (tmp / TRAINING_FILE).write_text(json.dumps(settings.identity(), indent=1, sort_keys=True))
    (tmp / "done").write_text("")
    shutil.rmtree(folder, ignore_errors=True)
    tmp.rename(folder)
    for old in checkpoints(out)[:-keep]:
        shutil.rmtree(old, ignore_errors=True)
    return folder


def _resume(trainer: Any, checkpoint: Path, settings: TrainSettings) -> None:
    from safetensors.torch import load_file

    saved = json.loads((checkpoint / TRAINING_FILE).read_text())
    diff = {k: (saved.get(k), v) for k, v in settings.identity().items() if saved.get(k) != v}
    if diff:
        raise SAETrainingError(f"the checkpoint in {checkpoint} was made with other settings "
                               f"({', '.join(f'{k}: {a!r} there, {b!r} now' for k, (a, b) in diff.items())}); "
                               "give the same settings, another --out, or --restart")
    trainer.sae.load_state_dict(load_file(str(checkpoint / "sae_weights.safetensors")))
    trainer.load_trainer_state(checkpoint)
    torch.set_rng_state(torch.load(checkpoint / "rng.pt")["torch"])
    trainer._next_checkpoint = trainer.n_training_samples + trainer.checkpoint_every


def train_sae(model: LanguageModel, settings: TrainSettings, out: Path, *, restart: bool = False,
              progress: Callable[[dict[str, float]], None] | None = None,
              stop_after: int | None = None, show_bar: bool = True) -> Path:
    """Train (or resume) the run and write the SAE to ``out`` in SAELens's format; returns ``out``.

    Args:
        restart: start over even when ``out`` holds checkpoints.
        progress: called with the figures every few steps (step, tokens, loss, fve, l0, dead).
        stop_after: stop (with a checkpoint) once this many tokens are trained; for tests of resuming.
    """
    from sae_lens.config import SAETrainerConfig

    from featurepedia.training.activations import (
        ActivationSpec,
        CachedActivations,
        StreamingActivations,
        build_cache,
    )

    d_in = model.hook_width(settings.hook)
    out.mkdir(parents=True, exist_ok=True)
    if restart:
        shutil.rmtree(out / CHECKPOINTS, ignore_errors=True)
    sae = make_training_sae(settings, d_in)
    decay = int(settings.total_steps * settings.lr_decay_fraction)
    trainer_cfg = SAETrainerConfig(
        total_training_samples=settings.total_steps * settings.batch_size,
        train_batch_size_samples=settings.batch_size, lr=settings.lr, lr_end=settings.lr_end,
        lr_scheduler_name="constant", lr_warm_up_steps=min(settings.lr_warm_up_steps, settings.total_steps // 10),
        lr_decay_steps=decay, autocast=settings.autocast, dead_feature_window=settings.dead_feature_window,
        feature_sampling_window=1000, n_checkpoints=0, checkpoint_path=None, save_final_checkpoint=False,
        n_batches_for_norm_estimate=settings.norm_batches)
    spec = ActivationSpec(settings.model_id, settings.hook,
                          ContextSpec(corpus=settings.corpus, ctx_len=settings.ctx_len, seed=settings.seed),
                          part="train")

    def provider(start: int) -> Iterator[Tensor]:
        if settings.cache_dir:
            cache = build_cache(model, spec, Path(settings.cache_dir), max_tokens=settings.cache_tokens,
                                progress=_cache_progress(show_bar))
            return iter(CachedActivations(cache, settings.batch_size, seed=settings.seed, start=start))
        return iter(StreamingActivations(model, spec, settings.batch_size, seed=settings.seed, start=start))

    trainer_cls = _trainer_class()
    norm_data = provider(0)  # the input scale is estimated from the run's first batches, resumed or not
    trainer = trainer_cls(trainer_cfg, sae, norm_data)
    trainer.checkpoint_every = settings.checkpoint_every
    trainer._next_checkpoint = settings.checkpoint_every
    trainer.on_progress = progress
    done = checkpoints(out)
    if done:
        _resume(trainer, done[-1], settings)
    else:
        trainer.activation_scaler.estimate_scaling_factor(d_in=d_in, data_provider=norm_data,
                                                          n_batches_for_norm_estimate=settings.norm_batches)
        _init_b_dec(trainer, provider(0), settings.norm_batches)
    trainer.data_provider = provider(trainer.n_training_samples)
    limit = trainer_cfg.total_training_samples if stop_after is None else min(
        stop_after, trainer_cfg.total_training_samples)

    def checkpoint(t: Any) -> None:
        _save_checkpoint(t, out, settings)

    trainer.on_checkpoint = checkpoint
    started = time.monotonic()
    start_tokens = trainer.n_training_samples
    _fit(trainer, limit, show_bar)
    elapsed = time.monotonic() - started
    _save_checkpoint(trainer, out, settings)
    if trainer.n_training_samples < trainer_cfg.total_training_samples:
        return out
    _finish(trainer, out, settings, elapsed, trainer.n_training_samples - start_tokens)
    return out


def _cache_progress(show: bool) -> Callable[[int], None] | None:
    if not show:
        return None
    started = time.monotonic()

    def report(n_tokens: int) -> None:
        rate = n_tokens / max(time.monotonic() - started, 1e-9)
        sys.stderr.write(f"caching activations: {n_tokens:,} tokens ({rate:,.0f} tok/s)\n")

    return report


@torch.no_grad()
def _init_b_dec(trainer: Any, data: Iterator[Tensor], n_batches: int) -> None:
    """Start the decoder bias at the mean scaled activation.

    The residual stream has a large mean; with b_dec at zero it dominates every token's pre-activations,
    the same few latents win the top-k everywhere and most others die in the first steps (seen here: 64% dead
    after 2M tokens). SAELens's language-model runner offers the same "mean" initialisation.
    """
    total: Tensor | None = None
    count = 0
    for _, batch in zip(range(max(1, n_batches)), data, strict=False):
        scaled = trainer.activation_scaler(batch.float())
        total = scaled.sum(0) if total is None else total + scaled.sum(0)
        count += scaled.shape[0]
    if total is not None:
        trainer.sae.b_dec.data.copy_(total / count)


def _fit(trainer: Any, limit: int, show_bar: bool) -> None:
    """SAELens's fit loop up to ``limit`` tokens (fit itself always runs to the end and folds the scale)."""
    from tqdm.auto import tqdm

    bar = tqdm(total=trainer.cfg.total_training_samples, initial=trainer.n_training_samples, unit="tok",
               unit_scale=True, disable=not show_bar, mininterval=5.0)
    try:
        while trainer.n_training_samples < limit:
            trainer.maybe_reset_sparsity()
            step_output = trainer.step(next(trainer.data_provider))
            trainer._checkpoint_if_needed()
            trainer.n_training_steps += 1
            trainer._update_pbar(step_output, bar)
    finally:
        bar.close()


def _finish(trainer: Any, out: Path, settings: TrainSettings, elapsed: float, trained: int) -> None:
    """Fold the input scale into the weights, as SAELens's fit does, and write the inference SAE."""
    scaler = trainer.activation_scaler
    if scaler.scaling_factor is not None:
        trainer.sae.fold_activation_norm_scaling_factor(scaler.scaling_factor)
        scaler.scaling_factor = None
    trainer.set_final_sae_metadata()
    trainer.sae.save_inference_model(str(out))
    (out / TRAINING_FILE).write_text(json.dumps(
        {**settings.identity(), "tokens_per_second": round(trained / max(elapsed, 1e-9)),
         "trained_tokens_this_run": trained}, indent=1, sort_keys=True))


def to_fp16(folder: Path, dest: Path) -> Path:
    """Copy an SAE folder with its weights in fp16 (half the size; what ships in the package)."""
    from safetensors.torch import load_file, save_file

    dest.mkdir(parents=True, exist_ok=True)
    weights = load_file(str(folder / "sae_weights.safetensors"))
    save_file({k: v.half().contiguous() for k, v in weights.items()}, str(dest / "sae_weights.safetensors"))
    cfg = json.loads((folder / "cfg.json").read_text())
    cfg["dtype"] = "float16"
    (dest / "cfg.json").write_text(json.dumps(cfg, indent=1, sort_keys=True))
    for name in (TRAINING_FILE,):
        if (folder / name).is_file():
            shutil.copyfile(folder / name, dest / name)
    return dest


__all__ = ["ARCHITECTURES", "SAETrainingError", "TrainSettings", "checkpoints", "make_training_sae",
           "sparse_topk_class", "to_fp16", "train_sae"]
