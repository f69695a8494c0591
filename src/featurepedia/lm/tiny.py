"""Tiny random models built from a config in code: for tests, no downloads, ~10 ms to build.

They use the tokenizer of the embedded model when it is cached (real text in, real tokens out) and
otherwise a small byte-level BPE trained in memory on a fixed text, so tests never need the network.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import torch
from torch import nn

from featurepedia.lm.model import LanguageModel
from featurepedia.lm.registry import register_model

VOCAB = 512
_TRAINING_TEXT = (
    "The quick brown fox jumps over the lazy dog. 0123456789 Paris is the capital of France. "
    "It was a truth universally acknowledged. import numpy as np. Héllo wörld, naïve café, 日本語.\n"
)


@lru_cache(maxsize=1)
def tiny_tokenizer() -> Any:
    """A byte-level BPE tokenizer with a 512-token vocabulary, trained in memory (deterministic)."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=VOCAB, special_tokens=["<|endoftext|>", "<|bos|>"],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False,
    )
    tok.train_from_iterator([_TRAINING_TEXT] * 20, trainer=trainer)
    return PreTrainedTokenizerFast(tokenizer_object=tok, bos_token="<|bos|>", eos_token="<|endoftext|>",
                                   pad_token="<|endoftext|>")


def tiny_gpt2(seed: int = 0, n_layer: int = 2, dtype: torch.dtype = torch.float32,
              device: torch.device | str = "cpu") -> LanguageModel:
    """A random 2-layer GPT-2 (d_model 64, 256 MLP neurons)."""
    from transformers import GPT2Config, GPT2LMHeadModel

    tokenizer = tiny_tokenizer()
    torch.manual_seed(seed)
    config = GPT2Config(vocab_size=len(tokenizer), n_positions=256, n_embd=64, n_layer=n_layer, n_head=4,
                        n_inner=256, bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id)
    hf: nn.Module = GPT2LMHeadModel(config)
    hf.to(device=device, dtype=dtype)  # built in fp32 first, so every dtype rounds the same weights
    return LanguageModel("tiny-gpt2", hf, tokenizer, info={"loader": "tiny", "arch": "gpt2", "seed": seed})


def tiny_llama(seed: int = 0, n_layer: int = 2, dtype: torch.dtype = torch.float32,
               device: torch.device | str = "cpu") -> LanguageModel:
    """A random 2-layer Llama (gated SiLU MLP, RMSNorm, tied embeddings): SmolLM2's code path."""
    from transformers import LlamaConfig, LlamaForCausalLM

    tokenizer = tiny_tokenizer()
    torch.manual_seed(seed)
    config = LlamaConfig(vocab_size=len(tokenizer), hidden_size=64, intermediate_size=128,
                         num_hidden_layers=n_layer, num_attention_heads=4, num_key_value_heads=2,
                         max_position_embeddings=256, tie_word_embeddings=True,
                         bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id)
    hf: nn.Module = LlamaForCausalLM(config)
    hf.to(device=device, dtype=dtype)
    return LanguageModel("tiny-llama", hf, tokenizer, info={"loader": "tiny", "arch": "llama", "seed": seed})


register_model("tiny-gpt2", tiny_gpt2, "random 2-layer GPT-2 for tests (64-d, 256 neurons)")
register_model("tiny-llama", tiny_llama, "random 2-layer Llama for tests (64-d, 128 neurons)")
