"""The model pool: one shared copy per (name, dtype, device), loaded once even under concurrent first requests."""

from __future__ import annotations

import threading
import time

import pytest
import torch

from featurepedia.errors import FeaturepediaError, UnavailableError
from featurepedia.lm import LanguageModel, ModelLoadError, ModelNotFoundError, get_model, release_model
from featurepedia.lm.pool import POOL, ModelPool, PoolKey, model_key

KEY = PoolKey("test model", "counted")


def _in_threads(n: int, fn) -> list[object]:
    """Run ``fn`` in ``n`` threads released together; their results (or the exceptions they raised)."""
    start = threading.Barrier(n)
    results: list[object] = [None] * n

    def run(i: int) -> None:
        start.wait()
        try:
            results[i] = fn()
        except BaseException as err:
            results[i] = err

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


def test_concurrent_first_requests_load_once():
    pool = ModelPool()
    calls = []

    def load() -> object:
        calls.append(1)
        time.sleep(0.2)  # long enough for every other thread to arrive while this one loads
        return object()

    results = _in_threads(8, lambda: pool.get(KEY, load))
    assert len(calls) == 1
    assert all(r is results[0] for r in results) and not isinstance(results[0], BaseException)
    assert pool.get(KEY, load) is results[0] and len(calls) == 1
    assert pool.keys() == [KEY]


def test_different_keys_load_side_by_side():
    pool = ModelPool()
    other_loaded = threading.Event()

    def slow() -> str:
        # Only finishes if the other key's load runs meanwhile: one lock for all keys would make this time out.
        assert other_loaded.wait(timeout=5), "the second key waited for the first key's load"
        return "slow"

    def fast() -> str:
        other_loaded.set()
        return "fast"

    first = threading.Thread(target=pool.get, args=(PoolKey("test model", "slow"), slow))
    first.start()
    time.sleep(0.05)
    assert pool.get(PoolKey("test model", "fast"), fast) == "fast"
    first.join()
    assert pool.get(PoolKey("test model", "slow"), slow) == "slow"


def test_a_failed_load_is_not_kept_and_says_what_failed():
    pool = ModelPool()
    attempts = []

    def flaky() -> str:
        attempts.append(1)
        if len(attempts) == 1:
            raise OSError("disk not mounted")
        return "loaded"

    with pytest.raises(ModelLoadError) as caught:
        pool.get(KEY, flaky)
    err = caught.value
    assert isinstance(err, UnavailableError) and err.status == 503
    assert "test model 'counted' (float32 on cpu)" in err.message and "disk not mounted" in err.message
    assert pool.keys() == []
    assert pool.get(KEY, flaky) == "loaded" and len(attempts) == 2


def test_concurrent_requests_after_a_failure_retry():
    pool = ModelPool()
    attempts = []

    def fails() -> str:
        attempts.append(1)
        time.sleep(0.05)
        raise RuntimeError("out of memory")

    results = _in_threads(4, lambda: pool.get(KEY, fails))
    assert all(isinstance(r, ModelLoadError) for r in results)
    assert len(attempts) == 4  # each waiting request tried again once the failed one was done


def test_user_facing_errors_of_a_loader_pass_through():
    pool = ModelPool()

    def unknown() -> str:
        raise ModelNotFoundError("unknown model 'x'; registered models: ...")

    with pytest.raises(ModelNotFoundError, match="registered models"):
        pool.get(KEY, unknown)
    with pytest.raises(ModelNotFoundError, match="registered models: .*tiny-gpt2"):
        get_model("gpt-9")
    assert model_key("gpt-9") not in POOL.keys()


def test_release_and_clear():
    pool = ModelPool()
    first = pool.get(KEY, object)
    assert pool.release(KEY) and not pool.release(KEY)
    second = pool.get(KEY, object)
    assert second is not first
    pool.clear()
    assert pool.keys() == [] and pool.get(KEY, object) is not second


@pytest.fixture
def pooled_tiny():
    """Release the tiny models these tests put in the process pool, so other tests see a fresh one."""
    yield
    for dtype in (torch.float32, torch.bfloat16):
        release_model("tiny-gpt2", dtype=dtype)


def test_get_model_shares_one_copy_per_id_dtype_and_device(pooled_tiny):
    model = get_model("tiny-gpt2")
    assert isinstance(model, LanguageModel)
    assert get_model("tiny-gpt2", device=torch.device("cpu")) is model  # "cpu" and torch.device("cpu") agree
    assert model.device == torch.device("cpu") and model.dtype == torch.float32
    half = get_model("tiny-gpt2", dtype=torch.bfloat16)
    assert half is not model and half.dtype == torch.bfloat16 and half.device.type == "cpu"
    assert release_model("tiny-gpt2") and get_model("tiny-gpt2") is not model


def test_the_scorers_backend_and_the_sentence_model_use_the_pool(pooled_tiny):
    from featurepedia.interp.backends.local import LocalLM, shared_model
    from featurepedia.interp.errors import ScorerUnavailable

    assert LocalLM("tiny-gpt2").model is get_model("tiny-gpt2") is shared_model("tiny-gpt2")
    with pytest.raises(ScorerUnavailable, match="unknown model 'gpt-9'") as caught:
        shared_model("gpt-9")
    assert isinstance(caught.value, FeaturepediaError)


def test_the_sentence_model_is_pooled():
    from featurepedia.interp.backends.sentence import EMBEDDING_MODEL, SENTENCE_MODEL, sentence_model

    model = sentence_model()
    assert PoolKey(SENTENCE_MODEL, EMBEDDING_MODEL) in POOL.keys()
    assert sentence_model() is model


@pytest.mark.slow
def test_the_session_model_is_the_scorers_default(real_model):
    from featurepedia.interp.backends.local import LocalLM

    assert LocalLM().model is real_model is get_model(real_model.model_id)
