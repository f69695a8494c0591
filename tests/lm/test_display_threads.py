"""The model's token-display caches are shared by request threads: concurrent use gives single-threaded results."""

from __future__ import annotations

import sys
import threading

import pytest

from featurepedia.lm.tiny import tiny_llama

TEXTS = ["plain words only", "naïve 日本語 café", "東京 and words", "The quick brown fox", "Héllo wörld, 0123"]


@pytest.fixture
def tight_switching():
    """Switch threads as often as possible, so a window between two cache updates is hit if there is one."""
    old = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    yield
    sys.setswitchinterval(old)


def _work(model) -> list[object]:
    out: list[object] = []
    for text in TEXTS:
        ids = model.to_tokens(text, prepend_bos=True)
        out.append(model.display(ids))
        out.append(model.token_texts(ids))
    out.append(model.token_texts(list(range(model.vocab_size))))
    out.append(model.display(list(range(model.vocab_size))))
    return out


def test_display_and_token_texts_from_many_threads_equal_one_thread(tight_switching):
    expected = _work(tiny_llama())
    for _ in range(5):  # each round starts from cold caches: the first lookups are the racy ones
        model = tiny_llama()
        start = threading.Barrier(8)
        results: list[list[object]] = []
        errors: list[BaseException] = []

        def run(model=model, start=start, results=results, errors=errors) -> None:
            start.wait()
            try:
                results.append(_work(model))
            except BaseException as err:  # a reader that saw half a cache update
                errors.append(err)

        threads = [threading.Thread(target=run) for _ in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert not errors, errors[0]
        assert len(results) == 8 and all(r == expected for r in results)
