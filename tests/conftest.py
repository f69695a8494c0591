"""Shared fixtures: seeding, an isolated data dir, tiny models, and the real default model (loaded once)."""

from __future__ import annotations

import os
import random
from pathlib import Path

import numpy as np
import pytest
import torch

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

# The real model's converted cache lives in the developer's data dir (or a shared one in CI) so it is
# converted once per machine, not once per test run.
REAL_DATA_DIR = Path(os.environ.get("FEATUREPEDIA_TEST_MODEL_DIR", Path(__file__).resolve().parents[1] / "data"))


@pytest.fixture(autouse=True)
def _seed() -> None:
    random.seed(0)
    np.random.seed(0)
    torch.manual_seed(0)


@pytest.fixture
def data_dir(tmp_path, monkeypatch):
    """A fresh FEATUREPEDIA_DATA_DIR for one test (the model cache is shared, see real_model)."""
    from featurepedia.settings import reset_settings

    monkeypatch.setenv("FEATUREPEDIA_DATA_DIR", str(tmp_path / "data"))
    reset_settings()
    yield tmp_path / "data"
    reset_settings()


@pytest.fixture(scope="session")
def tiny_gpt2():
    from featurepedia.lm.tiny import tiny_gpt2

    return tiny_gpt2()


@pytest.fixture(scope="session")
def tiny_llama():
    from featurepedia.lm.tiny import tiny_llama

    return tiny_llama()


@pytest.fixture(scope="session")
def real_model():
    """The embedded SmolLM2-135M-Instruct, from the model pool: the scorers' default model is this instance."""
    from featurepedia.lm import get_model
    from featurepedia.settings import DEFAULT_MODEL_ID, reset_settings

    old = os.environ.get("FEATUREPEDIA_DATA_DIR")
    os.environ["FEATUREPEDIA_DATA_DIR"] = str(REAL_DATA_DIR)
    reset_settings()
    try:
        model = get_model(DEFAULT_MODEL_ID)
    finally:
        if old is None:
            os.environ.pop("FEATUREPEDIA_DATA_DIR", None)
        else:
            os.environ["FEATUREPEDIA_DATA_DIR"] = old
        reset_settings()
    torch.set_num_threads(max(1, os.cpu_count() or 1))
    return model
