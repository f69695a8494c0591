"""A causal LM with named hook points: record, steer and ablate through one interface."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor, nn

from featurepedia.lm.architecture import Family, detect_family
from featurepedia.lm.hooks import HookPoint, HookPointError, StopForward
from featurepedia.lm.tokens import (
    TokenText,
    display_from_bytes,
    mark_special,
    special_token_texts,
    token_bytes,
)

# A hook function receives the activation at a hook point, shape [batch, pos, d], and returns it
# (possibly changed) or None to leave it as it is.
HookFn = Callable[[Tensor], Tensor | None]


@dataclass
class LanguageModel:
    """A loaded causal LM, its tokenizer and its hook points.

    Attributes:
        model_id: the slug it is known by (e.g. ``smollm2-135m``).
        hf: the transformers ``*ForCausalLM`` module (eval mode).
        tokenizer: its tokenizer.
        info: where it came from (loader, path, revision), saved next to every artifact built with it.
    """

    model_id: str
    hf: Any  # a transformers *ForCausalLM (nn.Module)
    tokenizer: Any
    info: dict[str, Any] = field(default_factory=dict)
    # Display caches, shared by the threads that serve pages: filled under the lock, read without it.
    # token id -> (its bytes, its TokenText when those bytes are whole UTF-8, else None: only part of a
    # character, so a context holding it takes the full path).
    _token_cache: dict[int, tuple[bytes, TokenText | None]] = field(
        default_factory=dict, init=False, repr=False, compare=False)
    _token_text_cache: dict[int, str] = field(default_factory=dict, init=False, repr=False, compare=False)
    _special_texts: dict[int, TokenText] | None = field(default=None, init=False, repr=False, compare=False)
    _cache_lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        self.hf.eval()
        self.family: Family = detect_family(self.hf)
        self.blocks = self.family.blocks(self.hf)

    # -- shapes --------------------------------------------------------------------------------------
    @property
    def n_layers(self) -> int:
        return len(self.blocks)

    @property
    def d_model(self) -> int:
        return int(self.hf.get_input_embeddings().weight.shape[1])

    @property
    def d_mlp(self) -> int:
        return int(self.family.mlp_out_weight(self.blocks[0]).shape[0])

    @property
    def vocab_size(self) -> int:
        return int(self.hf.get_output_embeddings().weight.shape[0])

    @property
    def device(self) -> torch.device:
        """Where the weights are; inputs go there (the CPU today, a GPU for live inference later)."""
        return next(self.hf.parameters()).device

    @property
    def dtype(self) -> torch.dtype:
        """The weights' floating-point type (float32 unless a loader was asked for another)."""
        return next(self.hf.parameters()).dtype

    @property
    def bos_token_id(self) -> int | None:
        return self.tokenizer.bos_token_id

    def hook_point(self, name: str) -> HookPoint:
        """Parse ``name`` and check its layer exists in this model."""
        point = HookPoint.parse(name)
        if not 0 <= point.layer < self.n_layers:
            raise HookPointError(
                f"layer {point.layer} is out of range for {self.model_id}, which has {self.n_layers} "
                f"layers (0..{self.n_layers - 1})"
            )
        return point

    def hook_width(self, name: str) -> int:
        """Size of the last dimension of the activation at a hook point."""
        return self.d_mlp if self.hook_point(name).site == "mlp_post" else self.d_model

    # -- tokens --------------------------------------------------------------------------------------
    def to_tokens(self, text: str, prepend_bos: bool = True) -> list[int]:
        """Token ids of ``text``, with the BOS token first when the model has one and it is asked for."""
        ids = list(self.tokenizer(text, add_special_tokens=False)["input_ids"])
        if prepend_bos and self.bos_token_id is not None:
            ids = [self.bos_token_id, *ids]
        return ids

    def display(self, ids: Sequence[int]) -> list[TokenText]:
        """Readable display strings for a sequence of token ids (partial UTF-8 handled).

        Each token's bytes are looked up once per model: dashboards display thousands of contexts that
        share a few thousand distinct tokens.
        """
        ids = [int(i) for i in ids]
        cache = self._token_cache
        missing = {i for i in ids if i not in cache}
        if missing:
            self._fill_token_cache(missing)
        specials = self._special_texts
        if specials is None:
            with self._cache_lock:
                if self._special_texts is None:
                    self._special_texts = special_token_texts(self.tokenizer)
                specials = self._special_texts
        entries = [cache[i] for i in ids]
        shown = [whole for _, whole in entries]
        if any(t is None for t in shown):
            return mark_special(ids, display_from_bytes([raw for raw, _ in entries]), specials)
        return mark_special(ids, [t for t in shown if t is not None], specials)

    def _fill_token_cache(self, missing: set[int]) -> None:
        # Computed under the lock (so two threads never look up the same tokens), published by one update of
        # whole entries: a reader without the lock finds each token either absent or complete.
        with self._cache_lock:
            todo = [i for i in missing if i not in self._token_cache]
            entries: dict[int, tuple[bytes, TokenText | None]] = {}
            for i, raw in zip(todo, token_bytes(self.tokenizer, todo), strict=True):
                try:
                    raw.decode("utf-8")
                    entries[i] = (raw, display_from_bytes([raw])[0])
                except UnicodeDecodeError:
                    entries[i] = (raw, None)
            self._token_cache.update(entries)

    def token_text(self, token_id: int) -> str:
        """Display string of one token on its own (cached: logit lists repeat tokens a lot)."""
        return self.token_texts([token_id])[0]

    def token_texts(self, token_ids: Sequence[int]) -> list[str]:
        """Display strings of tokens each on its own (not joined like a context), looked up in one go."""
        cache = self._token_text_cache
        ids = [int(i) for i in token_ids]
        missing = list({i for i in ids if i not in cache})
        if missing:
            texts = {i: shown.text if not shown.is_partial else self.display([i])[0].text
                     for i, shown in zip(missing, self.display(missing), strict=True)}
            with self._cache_lock:
                cache.update(texts)  # the same text whichever thread computed it
        return [cache[i] for i in ids]

    # -- hooks ---------------------------------------------------------------------------------------
    @contextmanager
    def hooks(self, fwd_hooks: Sequence[tuple[str, HookFn]]) -> Iterator[None]:
        """Attach ``(hook point name, fn)`` pairs for the duration of the block."""
        handles = [self._attach(self.hook_point(name), fn) for name, fn in fwd_hooks]
        try:
            yield
        finally:
            for handle in handles:
                handle.remove()

    def _attach(self, point: HookPoint, fn: HookFn) -> torch.utils.hooks.RemovableHandle:
        block = self.blocks[point.layer]
        if point.site == "mlp_post":

            def pre_hook(module: nn.Module, args: tuple[Any, ...]) -> tuple[Any, ...] | None:
                out = fn(args[0])
                return None if out is None else (out, *args[1:])

            return self.family.mlp_out(block).register_forward_pre_hook(pre_hook)

        def post_hook(module: nn.Module, args: tuple[Any, ...], output: Any) -> Any:
            hidden = output[0] if isinstance(output, tuple) else output
            out = fn(hidden)
            if out is None:
                return None
            return (out, *output[1:]) if isinstance(output, tuple) else out

        return block.register_forward_hook(post_hook)

    # -- running -------------------------------------------------------------------------------------
    @torch.inference_mode()
    def run_to(self, hook_name: str, input_ids: Tensor, attention_mask: Tensor | None = None) -> Tensor:
        """Run only as far as ``hook_name`` and return its activation.

        Args:
            input_ids: [batch, pos] token ids (right-padded when lengths differ).
            attention_mask: [batch, pos], 1 for real tokens; None means all real.
        Returns:
            [batch, pos, d] activations (d = d_mlp for MLP neurons, d_model for the residual stream).
        """
        captured: list[Tensor] = []
        self.run_through([(hook_name, captured.append)], input_ids, attention_mask)
        return captured[0]

    @torch.inference_mode()
    def run_through(self, consumers: Sequence[tuple[str, Callable[[Tensor], None]]], input_ids: Tensor,
                    attention_mask: Tensor | None = None) -> None:
        """Run only as far as the deepest of the consumers' hook points, handing each consumer its hook
        point's activation as the pass goes by (consumers of one hook point in the order given).

        One forward pass serves sources at several layers: asking for layers 3 and 6 costs a pass to layer
        6, and no activation outlives its consumers. A consumer must leave the activation it is given as it
        is (later layers read it); one that needs to change it works on a copy.

        Args:
            consumers: (hook point name, fn) pairs; fn receives [batch, pos, d].
            input_ids / attention_mask: as for :meth:`run_to`.
        """
        names = list(dict.fromkeys(name for name, _ in consumers))
        reached: set[str] = set()

        def hook_for(name: str) -> HookFn:
            fns = [fn for hook, fn in consumers if hook == name]

            def consume(act: Tensor) -> None:
                for fn in fns:
                    fn(act)
                reached.add(name)
                if len(reached) == len(names):
                    raise StopForward

            return consume

        with self.hooks([(name, hook_for(name)) for name in names]):
            try:
                self.hf(input_ids=input_ids, attention_mask=attention_mask, use_cache=False)
            except StopForward:
                pass
        missing = [name for name in names if name not in reached]
        if missing:
            raise RuntimeError(f"hook point(s) {', '.join(missing)} were never reached in {self.model_id}")

    @torch.inference_mode()
    def logits(
        self,
        input_ids: Tensor,
        attention_mask: Tensor | None = None,
        fwd_hooks: Sequence[tuple[str, HookFn]] = (),
    ) -> Tensor:
        """Full forward pass, optionally with hooks; returns [batch, pos, vocab] logits."""
        with self.hooks(fwd_hooks):
            out = self.hf(input_ids=input_ids, attention_mask=attention_mask, use_cache=False)
        return out.logits

    # -- directions ----------------------------------------------------------------------------------
    def to_residual(self, hook_name: str, vectors: Tensor) -> Tensor:
        """Map directions at a hook point into the residual stream ([n, d_hook] -> [n, d_model]).

        MLP neurons write to the residual stream through W_out; residual directions are already there.
        """
        point = self.hook_point(hook_name)
        if point.site == "resid_post":
            return vectors
        w_out = self.family.mlp_out_weight(self.blocks[point.layer]).detach().float()  # [d_mlp, d_model]
        return vectors.float() @ w_out

    @torch.inference_mode()
    def logit_effects(self, directions: Tensor) -> Tensor:
        """Direct effect of residual directions on the logits: [n, d_model] -> [n, vocab].

        The final norm's gain (and LayerNorm's centring and bias-free part) is applied to each direction;
        the norm's division by the RMS/std is a positive per-token scale that changes no ranking, so it is
        left out. This is the "logit lens" view of a feature used by Neuronpedia and SAEDashboard.
        """
        d, w_u = self.logit_lens(directions)
        return d @ w_u.T

    @torch.inference_mode()
    def logit_lens(self, directions: Tensor) -> tuple[Tensor, Tensor]:
        """The two factors of :meth:`logit_effects`: the directions through the final norm's gain
        ([n, d_model], float32) and the unembedding ([vocab, d_model], float32), whose product it is."""
        norm = self.family.final_norm(self.hf)
        d = directions.float()
        if isinstance(norm, nn.LayerNorm):
            d = d - d.mean(dim=-1, keepdim=True)
        weight = getattr(norm, "weight", None)
        if weight is not None:
            # Gemma-style norms store (gain - 1); their class says so with a flag we can't see generically,
            # so they are treated like Llama's (gain) here.
            d = d * weight.detach().float()
        w_u = self.hf.get_output_embeddings().weight.detach().float()  # [vocab, d_model]
        return d.contiguous(), w_u.contiguous()
