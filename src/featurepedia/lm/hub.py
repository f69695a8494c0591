"""Load any transformers causal LM from a local folder or the Hugging Face hub."""

from __future__ import annotations

import logging

import torch
from torch import nn

from featurepedia.lm.model import LanguageModel
from featurepedia.settings import DEFAULT_MODEL_ID

log = logging.getLogger(__name__)


def load_pretrained(path_or_id: str, model_id: str, dtype: torch.dtype = torch.float32,
                    device: torch.device | str = "cpu") -> LanguageModel:
    """Load a causal LM and its tokenizer from a folder or hub id (a hub id needs internet).

    Args:
        path_or_id: a local folder holding a transformers model, or ``org/name`` on the hub.
        model_id: the slug it will be known by.
        dtype: the weights' floating-point type.
        device: where the weights go.
    """
    from transformers import AutoModelForCausalLM, AutoTokenizer

    try:
        tokenizer = AutoTokenizer.from_pretrained(path_or_id)
        hf: nn.Module = AutoModelForCausalLM.from_pretrained(path_or_id, dtype=dtype)
    except OSError as err:
        raise OSError(
            f"could not load model {path_or_id!r}: {err}. A hub id needs internet access; offline, use a "
            f"local folder or the embedded default {DEFAULT_MODEL_ID!r}."
        ) from err
    hf.to(device)  # typed as a Module: transformers' own annotation of .to does not take a device
    return LanguageModel(model_id=model_id, hf=hf, tokenizer=tokenizer,
                         info={"loader": "transformers", "path": path_or_id, "dtype": str(dtype)})
