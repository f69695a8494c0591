"""Texts to token ids and padded batches, the way the dashboards make contexts (BOS first)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import Tensor

from featurepedia.errors import UsageError
from featurepedia.inference.limits import Limits
from featurepedia.lm.model import LanguageModel

# A text, or token ids taken as they are (BOS included when wanted): stored dashboard contexts are ids,
# and decoding then re-tokenising them would not always give the same ids back.
Text = str | Sequence[int]


@dataclass(frozen=True)
class Batch:
    """Right-padded token ids of several texts.

    Attributes:
        ids: each text's token ids (unpadded).
        input_ids: [batch, pos] padded with the pad token; attention_mask: [batch, pos], 1 = real token.
    """

    ids: list[list[int]]
    input_ids: Tensor
    attention_mask: Tensor

    @property
    def lengths(self) -> list[int]:
        return [len(i) for i in self.ids]


def context_window(model: LanguageModel) -> int | None:
    config = model.hf.config
    for name in ("max_position_embeddings", "n_positions"):
        value = getattr(config, name, None)
        if isinstance(value, int) and value > 0:
            return value
    return None


def token_ids(model: LanguageModel, text: Text, limits: Limits) -> list[int]:
    """The ids a text runs as: ``[BOS] + tokens`` for a string; ids as given, checked, otherwise."""
    if isinstance(text, str):
        if not text:
            raise UsageError("the text is empty; give at least one character")
        if len(text) > limits.max_chars:
            raise UsageError(f"the text is {len(text):,} characters; the limit is {limits.max_chars:,}")
        ids = model.to_tokens(text)
    else:
        ids = [int(i) for i in text]
        if not ids:
            raise UsageError("the token list is empty; give at least one token id")
        bad = [i for i in ids if not 0 <= i < model.vocab_size]
        if bad:
            raise UsageError(f"token id {bad[0]} is out of range for {model.model_id} "
                             f"(vocabulary of {model.vocab_size:,}: ids 0..{model.vocab_size - 1})")
    window = context_window(model)
    limit = min(limits.max_tokens, window) if window else limits.max_tokens
    if len(ids) > limit:
        raise UsageError(f"the text is {len(ids):,} tokens (BOS included); the limit is {limit:,}: shorten it")
    return ids


def has_bos(model: LanguageModel, ids: Sequence[int]) -> bool:
    """Position 0 is the BOS token: the dashboards never count it, so neither does live inference."""
    return model.bos_token_id is not None and len(ids) > 0 and int(ids[0]) == model.bos_token_id


def pad_id(model: LanguageModel) -> int:
    tok = model.tokenizer
    for candidate in (tok.pad_token_id, tok.eos_token_id, 0):
        if candidate is not None:
            return int(candidate)
    return 0


def make_batch(model: LanguageModel, ids: Sequence[Sequence[int]]) -> Batch:
    """Right-pad token id lists into one batch. Causal attention means a real token never sees the pads
    after it, and positions count from 0 in every row, so each row computes what it would alone."""
    rows = [list(map(int, i)) for i in ids]
    width = max(len(r) for r in rows)
    device = model_device(model)
    input_ids = torch.full((len(rows), width), pad_id(model), dtype=torch.long)
    mask = torch.zeros((len(rows), width), dtype=torch.long)
    for r, row in enumerate(rows):
        input_ids[r, : len(row)] = torch.tensor(row, dtype=torch.long)
        mask[r, : len(row)] = 1
    return Batch(rows, input_ids.to(device), mask.to(device))


def model_device(model: LanguageModel) -> torch.device:
    return next(model.hf.parameters()).device
