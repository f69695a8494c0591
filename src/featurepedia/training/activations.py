"""Activations at a hook point for SAE training and evaluation: recorded from a corpus, streamed or cached.

Both providers are deterministic functions of ``(seed, sample offset)``, so a run resumed from a checkpoint
at sample S sees exactly the batches an uninterrupted run would have seen from S on.

- :class:`StreamingActivations` records activations as it goes, ``chunk_contexts`` contexts at a time,
  shuffles each chunk and cuts it into batches: memory stays bounded by one chunk. Epoch ``e`` reads the
  corpus in the order of seed ``seed + e``, so each pass cuts the text into different contexts.
- :class:`CachedActivations` reads an fp16 cache on disk (:func:`build_cache`) that several epochs reuse,
  with a fresh global permutation per epoch. The cache is written in chunks and resumes where it stopped.

The BOS position (an attention sink with outsized norms, never counted by the dashboards either) is left
out of both.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from featurepedia.corpus import ContextSpec, context_batches, iter_contexts
from featurepedia.corpus.contexts import batched
from featurepedia.errors import FeaturepediaError
from featurepedia.lm.model import LanguageModel

CACHE_FILE = "activations.f16"
CACHE_META = "cache.json"


class ActivationCacheError(FeaturepediaError, ValueError):
    """An activation cache directory does not match the run, or is damaged."""


@dataclass(frozen=True)
class ActivationSpec:
    """Where activations come from: a model's hook point over one part of a corpus."""

    model_id: str
    hook: str
    contexts: ContextSpec
    part: str = "train"

    @property
    def tokens_per_context(self) -> int:
        """Samples each context gives: its length, less the BOS position when there is one."""
        return self.contexts.ctx_len - (1 if self.contexts.prepend_bos else 0)

    def to_dict(self) -> dict[str, Any]:
        return {"model_id": self.model_id, "hook": self.hook, "contexts": self.contexts.to_dict(),
                "part": self.part}


def record(model: LanguageModel, hook: str, batch: Tensor, skip_bos: bool) -> Tensor:
    """Activations of a [batch, ctx] token tensor at ``hook``, flattened to [n, d] float32 (BOS left out)."""
    acts = model.run_to(hook, batch.to(model.device))
    if skip_bos:
        acts = acts[:, 1:]
    return acts.reshape(-1, acts.shape[-1]).float().cpu()


def epoch_contexts(model: LanguageModel, spec: ActivationSpec, epoch: int) -> Iterator[list[int]]:
    """The contexts of pass ``epoch``: the corpus part in the order of seed ``contexts.seed + epoch``."""
    ctx_spec = replace(spec.contexts, seed=spec.contexts.seed + epoch)
    return iter_contexts(model.tokenizer, ctx_spec, part=spec.part)


def _seed(*parts: int) -> int:
    """A stable 63-bit seed from integers (Python's tuple hash is stable for ints, but say it outright)."""
    value = 1469598103934665603
    for part in parts:
        value = ((value ^ (part & 0xFFFF_FFFF_FFFF_FFFF)) * 1099511628211) & 0x7FFF_FFFF_FFFF_FFFF
    return value


def _rng(*parts: int) -> torch.Generator:
    gen = torch.Generator()
    gen.manual_seed(_seed(*parts))
    return gen


class StreamingActivations:
    """Batches of fresh activations, ``batch_size`` samples each, from sample ``start`` on (endless)."""

    def __init__(self, model: LanguageModel, spec: ActivationSpec, batch_size: int, seed: int = 0,
                 start: int = 0, chunk_contexts: int = 512, forward_batch: int = 32) -> None:
        self.model = model
        self.spec = spec
        self.batch_size = batch_size
        self.seed = seed
        self.start = start
        self.chunk_contexts = chunk_contexts
        self.forward_batch = forward_batch

    def samples(self) -> Iterator[Tensor]:
        """Shuffled chunks of samples, starting exactly at sample ``start``."""
        skip = self.start
        per_ctx = self.spec.tokens_per_context
        epoch = 0
        while True:
            produced = False
            for c, chunk in enumerate(batched(epoch_contexts(self.model, self.spec, epoch), self.chunk_contexts)):
                produced = True
                n = len(chunk) * per_ctx
                if skip >= n:  # before the resume point: tokenised, never run through the model
                    skip -= n
                    continue
                acts = torch.cat([record(self.model, self.spec.hook, batch, self.spec.contexts.prepend_bos)
                                  for batch in context_batches(chunk, self.forward_batch)])
                order = torch.randperm(acts.shape[0], generator=_rng(self.seed, epoch, c))
                yield acts[order[skip:]]
                skip = 0
            if not produced:
                raise ActivationCacheError(f"corpus {self.spec.contexts.corpus!r} has no {self.spec.part} "
                                           "contexts")
            epoch += 1

    def __iter__(self) -> Iterator[Tensor]:
        return rebatch(self.samples(), self.batch_size)


def rebatch(pieces: Iterable[Tensor], batch_size: int) -> Iterator[Tensor]:
    """Cut a stream of [n_i, d] pieces into [batch_size, d] batches (the remainder waits for the next piece)."""
    pending: list[Tensor] = []
    have = 0
    for piece in pieces:
        pending.append(piece)
        have += piece.shape[0]
        while have >= batch_size:
            joined = torch.cat(pending)
            yield joined[:batch_size]
            rest = joined[batch_size:]
            pending = [rest] if rest.shape[0] else []
            have = rest.shape[0]


# -- the fp16 cache on disk ----------------------------------------------------------------------------

def build_cache(model: LanguageModel, spec: ActivationSpec, cache_dir: Path, max_tokens: int | None = None,
                forward_batch: int = 32, chunk_contexts: int = 256,
                progress: Any = None) -> Path:
    """Write one pass of ``spec``'s activations to ``cache_dir`` in fp16 (resuming a partial cache).

    Returns the cache directory. A cache made for another model, hook, corpus or part is refused.
    """
    cache_dir.mkdir(parents=True, exist_ok=True)
    meta_path = cache_dir / CACHE_META
    data_path = cache_dir / CACHE_FILE
    d = model.hook_width(spec.hook)
    want = {"spec": spec.to_dict(), "d": d, "max_tokens": max_tokens}
    meta: dict[str, Any] = {**want, "contexts_done": 0, "complete": False}
    if meta_path.is_file():
        try:
            found = json.loads(meta_path.read_text())
        except json.JSONDecodeError as err:
            raise ActivationCacheError(f"{meta_path} is damaged ({err}); delete {cache_dir} to rebuild it") from None
        for key, value in want.items():
            if found.get(key) != value:
                raise ActivationCacheError(
                    f"the activation cache in {cache_dir} was made for {key}={found.get(key)!r}, not {value!r}; "
                    "give another --cache-dir or delete that one")
        meta = found
        if meta.get("complete"):
            return cache_dir
    per_ctx = spec.tokens_per_context
    done = int(meta["contexts_done"])
    itemsize = 2 * d
    with data_path.open("ab") as fh:
        fh.truncate(done * per_ctx * itemsize)  # drop a chunk that was half written when a run stopped
    limit = None if max_tokens is None else math.ceil(max_tokens / per_ctx)
    contexts = epoch_contexts(model, spec, 0)
    seen = 0
    with data_path.open("ab") as fh:
        for chunk in batched(contexts, chunk_contexts):
            if limit is not None and seen >= limit:
                break
            if limit is not None:
                chunk = chunk[:limit - seen]
            if seen + len(chunk) <= done:
                seen += len(chunk)
                continue
            chunk = chunk[max(0, done - seen):]
            seen = max(seen, done)
            acts = torch.cat([record(model, spec.hook, batch, spec.contexts.prepend_bos)
                              for batch in context_batches(chunk, forward_batch)])
            fh.write(acts.to(torch.float16).numpy().tobytes())
            fh.flush()
            seen += len(chunk)
            meta["contexts_done"] = seen
            _write_json(meta_path, meta)
            if progress is not None:
                progress(seen * per_ctx)
    meta["contexts_done"] = seen
    meta["n_tokens"] = seen * per_ctx
    meta["complete"] = True
    _write_json(meta_path, meta)
    return cache_dir


def _write_json(path: Path, data: dict[str, Any]) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, indent=1, sort_keys=True))
    tmp.replace(path)


def open_cache(cache_dir: Path) -> np.memmap:
    """The cached activations as an [n, d] fp16 memory map; a clear error when the cache is incomplete."""
    meta_path = cache_dir / CACHE_META
    if not meta_path.is_file():
        raise ActivationCacheError(f"no activation cache in {cache_dir} (expected {CACHE_META})")
    meta = json.loads(meta_path.read_text())
    if not meta.get("complete"):
        raise ActivationCacheError(f"the activation cache in {cache_dir} is incomplete; run again to finish it")
    n, d = int(meta["n_tokens"]), int(meta["d"])
    size = (cache_dir / CACHE_FILE).stat().st_size
    if size != n * d * 2:
        raise ActivationCacheError(f"{cache_dir / CACHE_FILE} holds {size} bytes, expected {n * d * 2} "
                                   f"({n} tokens x {d} fp16); delete {cache_dir} to rebuild it")
    return np.memmap(cache_dir / CACHE_FILE, dtype=np.float16, mode="r", shape=(n, d))


class CachedActivations:
    """Batches from an fp16 cache: epoch ``e`` is a permutation of all cached samples drawn from seed and e."""

    def __init__(self, cache_dir: Path, batch_size: int, seed: int = 0, start: int = 0,
                 in_memory: bool = True) -> None:
        data = open_cache(cache_dir)
        # In memory (the default) the cache is read once and epochs gather from RAM; else from the page cache.
        self.data: np.ndarray = np.array(data) if in_memory else data
        self.n = self.data.shape[0]
        if self.n < batch_size:
            raise ActivationCacheError(f"the cache in {cache_dir} holds {self.n} tokens, fewer than one batch "
                                       f"of {batch_size}")
        self.batch_size = batch_size
        self.seed = seed
        self.start = start

    def __iter__(self) -> Iterator[Tensor]:
        epoch, pos = divmod(self.start, self.n)
        perm = torch.randperm(self.n, generator=_rng(self.seed, epoch))
        while True:
            take = perm[pos:pos + self.batch_size]
            pos += take.shape[0]
            parts = [take]
            while sum(p.shape[0] for p in parts) < self.batch_size:
                epoch += 1
                perm = torch.randperm(self.n, generator=_rng(self.seed, epoch))
                need = self.batch_size - sum(p.shape[0] for p in parts)
                parts.append(perm[:need])
                pos = need
            idx = torch.cat(parts).numpy()
            yield torch.from_numpy(self.data[idx].astype(np.float32))
