"""Shared fixtures: seeding, an isolated data dir, tiny models, and the real default model (loaded once).

Only tests marked ``slow`` may use the real default model, so that ``make check`` (which deselects them)
stays fast: a test that asks for ``real_model`` without the mark is refused at collection, and one that
reaches the real model some other way (a CLI command or a view with the default model id) fails.
"""

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
# Steering generates with a bf16 copy of the model where the CPU has native bf16; tests compare generations
# with the float32 model's, so they use float32 unless a test asks for the copy (test_service does).
os.environ.setdefault("FEATUREPEDIA_GENERATION_DTYPE", "float32")
# pytest-django read the settings (through the Django settings module) before this file ran.
from featurepedia.settings import reset_settings  # noqa: E402

reset_settings()

# The production stack, shared by tests/web and tests/browser (one per session, on PostgreSQL only).
from tests.web.production_stack import production_stack, stack  # noqa: E402,F401  (fixtures)

# The real model's converted cache lives in the developer's data dir (or a shared one in CI) so it is
# converted once per machine, not once per test run.
REAL_DATA_DIR = Path(os.environ.get("FEATUREPEDIA_TEST_MODEL_DIR", Path(__file__).resolve().parents[1] / "data"))


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    unmarked = [item.nodeid for item in items
                if "real_model" in getattr(item, "fixturenames", ()) and item.get_closest_marker("slow") is None]
    if unmarked:
        raise pytest.UsageError(
            "these tests use the real_model fixture but are not marked slow, so `make check` would load the "
            "real model: " + ", ".join(unmarked) + "; mark them @pytest.mark.slow or use tiny_gpt2/tiny_llama"
        )


@pytest.fixture(autouse=True)
def _real_model_only_in_slow_tests(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    if request.node.get_closest_marker("slow") is not None:
        return
    from featurepedia.lm import embedded

    def refuse(*args: object, **kwargs: object) -> None:
        # pytest.fail raises a BaseException, so code that catches Exception cannot swallow it.
        pytest.fail(f"{request.node.nodeid} loads the real model {embedded.MODEL_ID} but is not marked slow; "
                    "mark it @pytest.mark.slow or give it a tiny model", pytrace=False)

    # Every load of the embedded model goes through prepare() (it finds or converts the cached weights).
    monkeypatch.setattr(embedded, "prepare", refuse)


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
