"""Load any transformers causal LM from a local folder or the Hugging Face hub."""

from __future__ import annotations

import logging

import torch

from featurepedia.lm.model import LanguageModel

log = logging.getLogger(__name__)


def load_pretrained(path_or_id: str, model_id: str, dtype: torch.dtype = torch.float32) -> LanguageModel:
    """Load a causal LM and its tokenizer from a folder or hub id (a hub id needs internet).

    Args:
        path_or_id: a local folder holding a transformers model, or ``org/name`` on the hub.
        model_id: the slug it will be known by.
    """
    from transformers import AutoModelForCausalLM, AutoTokenizer

    try:
        tokenizer = AutoTokenizer.from_pretrained(path_or_id)
        hf = AutoModelForCausalLM.from_pretrained(path_or_id, dtype=dtype)
    except OSError as err:
        raise OSError(
            f"could not load model {path_or_id!r}: {err}. A hub id needs internet access; offline, use a "
            "local folder or the embedded default 'smollm2-135m'."
        ) from err
    return LanguageModel(model_id=model_id, hf=hf, tokenizer=tokenizer,
                         info={"loader": "transformers", "path": path_or_id, "dtype": str(dtype)})
