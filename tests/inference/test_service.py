"""The inference service: bounded queue, input limits, timeouts, batching of concurrent activation requests."""

from __future__ import annotations

import time

import pytest
import torch

from featurepedia.errors import NotFoundError, UsageError
from featurepedia.inference import Limits, Sampling, activations
from featurepedia.inference.queries import (
    ActivationsQuery,
    AttributionQuery,
    SteeredFeature,
    SteerQuery,
    TopFeaturesQuery,
    TopKQuery,
)
from featurepedia.inference.service import InferenceTimeoutError, QueueFullError
from featurepedia.lm import get_model
from featurepedia.sources.neurons import NeuronSource
from tests.inference.conftest import TEXTS, count_passes, wait_until

MODEL = "tiny-gpt2"


def blocker() -> TopKQuery:
    """A request whose source lookup the gate holds: the worker is busy with it until the gate opens."""
    return TopKQuery(MODEL, "0-mlp", TEXTS[0], k=2)


def test_a_full_queue_is_refused_at_once_with_retry_after(make_service, gate):
    service = make_service(queue_size=1)
    busy = service.submit(blocker())
    assert gate.entered.wait(10)
    waiting = service.submit(ActivationsQuery(MODEL, "1-mlp", [0], [TEXTS[1]]))
    started = time.monotonic()
    with pytest.raises(QueueFullError, match="queue of tiny-gpt2 is full") as refused:
        service.submit(ActivationsQuery(MODEL, "1-mlp", [1], [TEXTS[2]]))
    assert time.monotonic() - started < 0.5
    assert refused.value.status == 503 and isinstance(refused.value.retry_after, int)
    assert 1 <= refused.value.retry_after <= 60
    gate.open()
    assert busy.result().source_id == "0-mlp"
    assert waiting.result()[0].features[0].index == 0
    assert service.stats["rejected"] == 1 and service.stats["served"] == 2


def test_input_over_the_limits_is_refused_before_it_is_queued(make_service):
    service = make_service(limits=Limits(max_tokens=8))
    with pytest.raises(UsageError, match="10,001 characters; the limit is 10,000") as err:
        service.submit(ActivationsQuery(MODEL, "1-mlp", [0], ["x" * 10_001]))
    assert err.value.status == 400
    with pytest.raises(UsageError, match="9 tokens; the limit is 8"):
        service.submit(TopKQuery(MODEL, "1-mlp", list(range(9))))
    with pytest.raises(UsageError, match="number of texts is 33; the limit is 32"):
        service.submit(ActivationsQuery(MODEL, "1-mlp", [0], ["a"] * 33))
    assert service.info()["waiting"] == 0 and not service.stats
    # The token count of a text is checked by the worker, which owns the tokenizer.
    with pytest.raises(UsageError, match=r"tokens \(BOS included\); the limit is 8"):
        service.run(ActivationsQuery(MODEL, "1-mlp", [0], [TEXTS[0]]))


def test_another_model_is_not_found(make_service):
    with pytest.raises(NotFoundError, match="runs the model 'tiny-gpt2', not 'tiny-llama'"):
        make_service().submit(ActivationsQuery("tiny-llama", "1-mlp", [0], ["a"]))


def test_a_request_that_waits_past_its_deadline_times_out_and_never_runs(make_service, gate):
    service = make_service(timeout_s=0.3)
    busy = service.submit(blocker())
    assert gate.entered.wait(10)
    late = service.submit(ActivationsQuery(MODEL, "1-mlp", [0], [TEXTS[1]]))
    started = time.monotonic()
    with pytest.raises(InferenceTimeoutError, match="did not finish within 0.3 s") as err:
        late.result()
    assert err.value.status == 504 and 0.2 < time.monotonic() - started < 2
    with count_passes(service.model) as passes:
        gate.open()
        with pytest.raises(InferenceTimeoutError):  # its deadline passed while the gate held it
            busy.result()
        wait_until(lambda: service.stats["timed_out"] == 2)
        assert service.run(ActivationsQuery(MODEL, "1-mlp", [0], [TEXTS[2]]))
    # The blocker's pass stops at its first layer's deadline check; the late request never ran.
    assert len(passes) == 2


def test_a_running_request_stops_at_its_deadline_and_frees_the_worker(make_service, gate):
    gate.open()
    service = make_service(timeout_s=1.0)
    model = service.model
    slow = model.blocks[1].register_forward_pre_hook(lambda module, args: time.sleep(0.01))
    try:
        with count_passes(model) as passes:
            steering = SteerQuery(MODEL, TEXTS[1], [SteeredFeature("1-mlp", 3, 2.0)],
                                  Sampling(n_tokens=200, stop_at_eos=False))  # within its 256 positions
            with pytest.raises(InferenceTimeoutError):
                service.run(steering)
            # The next request is answered within its own 1 s: the 256-token run (>= 2.6 s) did not keep the worker.
            assert service.run(ActivationsQuery(MODEL, "1-mlp", [0], [TEXTS[2]]))
            time.sleep(0.1)
            assert len(passes) < 200
    finally:
        slow.remove()


def test_concurrent_activation_requests_run_as_one_pass_with_the_same_answers(make_service, gate):
    service = make_service()
    busy = service.submit(blocker())
    assert gate.entered.wait(10)
    queries = [ActivationsQuery(MODEL, "1-mlp", [0, 7], [TEXTS[0]]),
               ActivationsQuery(MODEL, "0-mlp", [3], [TEXTS[1], TEXTS[2]]),
               ActivationsQuery(MODEL, "1-mlp", [255], [TEXTS[2]]),
               ActivationsQuery(MODEL, "1-mlp", [1], [service.model.to_tokens(TEXTS[1])])]
    pending = [service.submit(queries[0]), service.submit(queries[1])]
    between = service.submit(AttributionQuery(MODEL, "1-mlp", 3, TEXTS[0], 4))
    bad = service.submit(ActivationsQuery(MODEL, "1-mlp", [256], [TEXTS[0]]))  # out of range: fails alone
    pending += [service.submit(q) for q in queries[2:]]
    with count_passes(service.model) as passes:
        gate.open()
        busy.result()
        answers = [p.result() for p in pending]
        assert between.result().target == 4
        with pytest.raises(UsageError, match="feature 256 is out of range"):
            bad.result()
    # The blocker, one batch of the four activation requests, then the attribution (one ablation batch).
    assert len(passes) == 3
    assert service.stats["batches"] == 1 and service.stats["batched_requests"] == 4
    for query, answer in zip(queries, answers, strict=True):
        alone = activations(service.model, NeuronSource(service.model, int(query.source[0])), query.indices,
                            query.texts)
        assert [a.token_ids for a in answer] == [a.token_ids for a in alone]
        for got, want in zip(answer, alone, strict=True):
            for g, w in zip(got.features, want.features, strict=True):
                assert (g.index, g.max_index) == (w.index, w.max_index)
                torch.testing.assert_close(torch.tensor(g.values), torch.tensor(w.values), atol=1e-5, rtol=1e-4)


def test_a_batch_keeps_to_its_token_budget(make_service, gate):
    ids = get_model(MODEL).to_tokens(TEXTS[0])
    service = make_service(batch_tokens=3 * len(ids) + 1)  # three rows fit, four do not
    busy = service.submit(blocker())
    assert gate.entered.wait(10)
    pending = [service.submit(ActivationsQuery(MODEL, "1-mlp", [i], [ids])) for i in range(7)]
    with count_passes(service.model) as passes:
        gate.open()
        busy.result()
        answers = [p.result() for p in pending]
    assert len(passes) == 1 + 3  # the blocker, then batches of 3, 3 and 1, in arrival order
    assert service.stats["batches"] == 2 and service.stats["batched_requests"] == 6
    assert [a[0].features[0].index for a in answers] == list(range(7))


def test_top_features_leave_out_excluded_features(make_service, gate):
    gate.open()
    service = make_service()
    full = service.run(TopFeaturesQuery(MODEL, ["1-mlp", "0-mlp"], TEXTS[0], num_results=5))
    first = full.features[0]
    fewer = service.run(TopFeaturesQuery(MODEL, ["1-mlp", "0-mlp"], TEXTS[0], num_results=5,
                                         exclude={first.source_id: [first.index]}))
    assert (first.source_id, first.index) not in {(f.source_id, f.index) for f in fewer.features}
    assert fewer.features[:4] == full.features[1:]
    with pytest.raises(UsageError, match="exclude names source"):
        service.run(TopFeaturesQuery(MODEL, ["1-mlp"], TEXTS[0], exclude={"0-mlp": [1]}))
    with pytest.raises(UsageError, match="method 'shapley' is unknown"):
        service.run(AttributionQuery(MODEL, "1-mlp", 3, TEXTS[0], 4, method="shapley"))


def test_closing_fails_the_waiting_requests_and_refuses_new_ones(make_service, gate):
    service = make_service()
    service.submit(blocker())
    assert gate.entered.wait(10)
    waiting = service.submit(ActivationsQuery(MODEL, "1-mlp", [0], [TEXTS[1]]))
    service.close(wait_s=0.1)  # the worker is still held by the gate; the waiting request is failed now
    with pytest.raises(Exception, match="shut down"):
        waiting.result()
    with pytest.raises(Exception, match="shut down"):
        service.submit(ActivationsQuery(MODEL, "1-mlp", [0], [TEXTS[1]]))


def test_steering_generates_with_the_generation_copy_in_its_dtype(make_service):
    from featurepedia.inference.generation import generate_rows
    from featurepedia.inference.service import resolve_generation_dtype

    service = make_service(generation_dtype=torch.bfloat16)
    copy = service.generation_model()
    assert copy.dtype == torch.bfloat16 and service.model.dtype == torch.float32
    assert copy is get_model(MODEL, dtype=torch.bfloat16)  # one copy, from the pool
    sampling = Sampling(n_tokens=6, temperature=0.0, seed=1)
    unsteered = service.run(SteerQuery(MODEL, TEXTS[1], [SteeredFeature("1-mlp", 3, 0.0)], sampling=sampling))
    plain = generate_rows(copy, [copy.to_tokens(TEXTS[1])], sampling)[0]
    assert unsteered.steered.token_ids == plain.token_ids == unsteered.default.token_ids
    steered = service.run(SteerQuery(MODEL, TEXTS[1], [SteeredFeature("1-mlp", 3, 40.0)], sampling=sampling))
    assert steered.steered.token_ids != steered.default.token_ids
    assert resolve_generation_dtype("float32") == torch.float32
    assert resolve_generation_dtype("auto") in (torch.float32, torch.bfloat16)
