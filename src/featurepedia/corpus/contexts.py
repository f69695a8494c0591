"""Deterministic fixed-length token contexts from a corpus.

Documents are shuffled with the seed (local files are read whole; Hugging Face streams use a seeded
shuffle buffer), tokenised without special tokens, joined with the EOS token between documents, and cut
into pieces of ``ctx_len - 1`` tokens; each context is then ``[BOS] + piece`` when the model has a BOS token
and ``prepend_bos`` is on (else ``ctx_len`` tokens of text). The BOS position is an attention sink with
outsized activations, so the dashboards never count it (see dashboards.runner).
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass
from typing import Any, TypeVar

import torch
from torch import Tensor

from featurepedia.corpus.readers import CorpusError, iter_documents

SHUFFLE_BUFFER = 10_000
T = TypeVar("T")
PARTS = ("train", "heldout")
HELDOUT_FRACTION = 0.25  # of documents, by a hash of their text: the same split on every machine


def part_of(text: str) -> str:
    """``heldout`` for about a quarter of documents (chosen by a SHA-256 of the text), else ``train``.

    SAE training reads only ``train`` and its evaluation only ``heldout``, so figures are never measured on
    text the SAE was trained on; dashboards read both.
    """
    return "heldout" if hashlib.sha256(text.encode("utf-8")).digest()[0] < 256 * HELDOUT_FRACTION else "train"


class CorpusTooShortError(CorpusError):
    """The corpus holds fewer tokens than one context."""


@dataclass(frozen=True)
class ContextSpec:
    """How contexts are made; saved with every artifact built from them."""

    corpus: str = "default"
    ctx_len: int = 64
    seed: int = 0
    prepend_bos: bool = True
    text_field: str = "text"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def shuffled_documents(spec: ContextSpec, part: str | None = None) -> Iterator[str]:
    """The corpus's documents in a seeded, reproducible order (only those of ``part`` when it is given)."""
    if part is not None and part not in PARTS:
        raise CorpusError(f"unknown corpus part {part!r}; use one of {', '.join(PARTS)}")
    rng = random.Random(spec.seed)
    docs: Iterable[str] = iter_documents(spec.corpus, spec.text_field)
    if part is not None:
        docs = (doc for doc in docs if part_of(doc) == part)
    if spec.corpus.startswith("hf:"):
        yield from _buffer_shuffle(docs, rng)
        return
    everything = list(docs)
    rng.shuffle(everything)
    yield from everything


def _buffer_shuffle(docs: Iterable[str], rng: random.Random) -> Iterator[str]:
    buffer: list[str] = []
    for doc in docs:
        if len(buffer) < SHUFFLE_BUFFER:
            buffer.append(doc)
            continue
        i = rng.randrange(len(buffer))
        yield buffer[i]
        buffer[i] = doc
    rng.shuffle(buffer)
    yield from buffer


def iter_contexts(tokenizer: Any, spec: ContextSpec, n_contexts: int | None = None,
                  part: str | None = None) -> Iterator[list[int]]:
    """Yield token-id contexts of length ``spec.ctx_len`` (at most ``n_contexts`` of them).

    ``part`` (``train`` or ``heldout``) keeps only that part's documents (see :func:`part_of`).

    Raises:
        CorpusError: the corpus holds no text at all.
        CorpusTooShortError: it holds fewer tokens than one context.
    """
    if spec.ctx_len < 2:
        raise CorpusError(f"context length is {spec.ctx_len}; it must be at least 2")
    bos = tokenizer.bos_token_id if spec.prepend_bos else None
    eos = tokenizer.eos_token_id
    body = spec.ctx_len - (1 if bos is not None else 0)
    stream: list[int] = []
    made = 0
    seen_text = False
    for batch in batched(shuffled_documents(spec, part), 256):
        seen_text = True
        for ids in tokenizer(batch, add_special_tokens=False)["input_ids"]:
            stream.extend(ids)
            if eos is not None:
                stream.append(eos)
        start = 0
        while len(stream) - start >= body:
            piece = stream[start:start + body]
            start += body
            yield ([bos] if bos is not None else []) + piece
            made += 1
            if n_contexts is not None and made >= n_contexts:
                return
        del stream[:start]  # one shift per batch of documents, not one per context
    if not seen_text:
        raise CorpusError(f"corpus {spec.corpus!r} holds no text")
    if made == 0:
        raise CorpusTooShortError(
            f"corpus {spec.corpus!r} has {len(stream):,} tokens (document separators included), fewer than one "
            f"context of {spec.ctx_len} tokens ({body} of text{' after the BOS token' if bos is not None else ''}); "
            f"give a longer corpus or a context length of at most {len(stream) + spec.ctx_len - body}")


def batched(items: Iterable[T], size: int) -> Iterator[list[T]]:
    """Consecutive lists of ``size`` items (the last may be shorter); itertools.batched needs Python 3.12."""
    batch: list[T] = []
    for item in items:
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def context_batches(contexts: Iterable[list[int]], batch_size: int) -> Iterator[Tensor]:
    """Group contexts into [batch, ctx_len] tensors (the last batch may be smaller)."""
    batch: list[list[int]] = []
    for ctx in contexts:
        batch.append(ctx)
        if len(batch) == batch_size:
            yield torch.tensor(batch, dtype=torch.long)
            batch = []
    if batch:
        yield torch.tensor(batch, dtype=torch.long)
