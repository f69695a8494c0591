"""Steering: strength 0 is plain generation, the KV cache steers each position once, seeds reproduce."""

from __future__ import annotations

import copy
from collections import Counter

import pytest
import torch

from featurepedia.errors import UsageError
from featurepedia.inference import Sampling, SteerFeature, generate, steer, steer_chat
from featurepedia.lm.model import LanguageModel

PROMPT = "The quick brown fox"


def _reference_greedy(model, ids, n, hooks_for):
    """Greedy generation without a cache: every step reruns the whole sequence with fresh hooks."""
    ids = list(ids)
    out = []
    for _ in range(n):
        logits = model.logits(torch.tensor([ids]), fwd_hooks=hooks_for(ids))[0, -1]
        token = int(logits.argmax())
        out.append(token)
        if token == model.tokenizer.eos_token_id:
            break
        ids.append(token)
    return out


def test_strength_zero_equals_plain_generation(model, source):
    sampling = Sampling(n_tokens=12)
    result = steer(model, PROMPT, [SteerFeature(source, 3, 0.0)], sampling=sampling)
    plain = generate(model, PROMPT, sampling)
    ids = torch.tensor([model.to_tokens(PROMPT)])
    hf = model.hf.generate(ids, attention_mask=torch.ones_like(ids), max_new_tokens=12, do_sample=False,
                           pad_token_id=model.tokenizer.pad_token_id)[0, ids.shape[1]:].tolist()
    assert result.steered.token_ids == plain.token_ids == result.default.token_ids == hf
    sampled = Sampling(n_tokens=12, temperature=1.0, seed=5)
    assert steer(model, PROMPT, [SteerFeature(source, 3, 0.0)], sampling=sampled).steered.token_ids == \
        generate(model, PROMPT, sampled).token_ids


def test_a_cached_run_steers_every_position_once(model, sae, neurons):
    features = [SteerFeature(sae, 2, 0.4), SteerFeature(sae, 9, -0.2), SteerFeature(neurons, 5, 0.3)]
    result = steer(model, PROMPT, features, sampling=Sampling(n_tokens=10), strength_multiplier=2.0)

    def hooks_for(ids):
        sae_vec = 2.0 * (0.4 * sae.W_dec[2] - 0.2 * sae.W_dec[9])
        neuron_vec = torch.zeros(model.d_mlp)
        neuron_vec[5] = 2.0 * 0.3
        return [(sae.hook_name, lambda a: a + sae_vec), (neurons.hook_name, lambda a: a + neuron_vec)]

    want = _reference_greedy(model, model.to_tokens(PROMPT), 10, hooks_for)
    assert result.steered.token_ids == want
    assert result.steered.token_ids != result.default.token_ids  # the strength does change the text
    assert result.default.token_ids == generate(model, PROMPT, Sampling(n_tokens=10)).token_ids


def test_deterministic_for_a_seed_and_batched_like_separate(model, sae):
    features = [SteerFeature(sae, 1, 1.0)]
    sampling = Sampling(n_tokens=16, temperature=1.0, seed=7)
    a = steer(model, PROMPT, features, sampling=sampling)
    b = steer(model, PROMPT, features, sampling=sampling)
    c = steer(model, PROMPT, features, sampling=sampling, batch_default=False)
    assert a == b
    assert a.steered.token_ids == c.steered.token_ids and a.default.token_ids == c.default.token_ids
    other = steer(model, PROMPT, features, sampling=Sampling(n_tokens=16, temperature=1.0, seed=8))
    assert other.default.token_ids != a.default.token_ids
    strong = steer(model, PROMPT, [SteerFeature(sae, 1, 50.0)], sampling=sampling)
    assert strong.default == a.default  # the default run does not depend on the features
    # A random tiny model's next-token distribution is nearly flat whatever is added, so a seeded sample
    # barely moves; the most likely token does.
    greedy = steer(model, PROMPT, [SteerFeature(sae, 1, 50.0)], sampling=Sampling(n_tokens=16))
    assert greedy.steered.token_ids != greedy.default.token_ids


def test_frequency_penalty_makes_repeats_rarer(tiny_llama):
    plain = generate(tiny_llama, PROMPT, Sampling(n_tokens=40, stop_at_eos=False))
    penalised = generate(tiny_llama, PROMPT, Sampling(n_tokens=40, freq_penalty=2.0, stop_at_eos=False))
    rewarded = generate(tiny_llama, PROMPT, Sampling(n_tokens=40, freq_penalty=-2.0, stop_at_eos=False))

    def most_repeated(g):
        return Counter(g.token_ids).most_common(1)[0][1]

    assert most_repeated(penalised) < most_repeated(plain) <= most_repeated(rewarded)
    assert len(set(penalised.token_ids)) > len(set(plain.token_ids))
    assert penalised.token_ids[0] == plain.token_ids[0]  # nothing is generated yet at the first step


def test_logprobs_are_the_models_distribution(model, sae):
    result = steer(model, PROMPT, [SteerFeature(sae, 0, 0.0)], sampling=Sampling(n_tokens=4, top_logprobs=3))
    ids = model.to_tokens(PROMPT)
    log_p = torch.log_softmax(model.logits(torch.tensor([ids]))[0, -1].float(), dim=-1)
    first = result.steered.logprobs[0]
    assert first.token_id == result.steered.token_ids[0] == int(log_p.argmax())  # greedy: the top one
    assert first.logprob == pytest.approx(float(log_p.max()), abs=1e-5)
    assert [t.token_id for t in first.top] == log_p.topk(3).indices.tolist()
    assert [t.logprob for t in first.top] == sorted((t.logprob for t in first.top), reverse=True)
    assert first.token == model.token_text(first.token_id)
    assert len(result.steered.logprobs) == len(result.steered.token_ids)
    assert generate(model, PROMPT, Sampling(n_tokens=2)).logprobs is None


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"strength": float("nan")}, "strength of feature .* is nan; it must be a finite number"),
    ({"strength": float("inf")}, "is inf; it must be a finite number"),
    ({"strength": 1e9}, "the limit is ±10000"),
    ({"strength_multiplier": 11.0}, "strength_multiplier is 11; it must be between 0 and 10"),
    ({"strength_multiplier": float("-inf")}, "strength_multiplier is -inf"),
    ({"sampling": Sampling(temperature=3.0)}, "temperature is 3"),
    ({"sampling": Sampling(n_tokens=0)}, "n_tokens is 0; give at least 1"),
    ({"sampling": Sampling(n_tokens=300)}, "n_tokens is 300; the limit is 256"),
    ({"sampling": Sampling(freq_penalty=float("nan"))}, "freq_penalty is nan"),
    ({"index": 10**6}, "out of range"),
])
def test_bad_settings_raise_usage_errors(tiny_llama, kwargs, message):
    from featurepedia.sources.neurons import NeuronSource

    source = NeuronSource(tiny_llama, 1)
    feature = SteerFeature(source, kwargs.pop("index", 0), kwargs.pop("strength", 1.0))
    with pytest.raises(UsageError, match=message):
        steer(tiny_llama, PROMPT, [feature], **kwargs)


def test_too_many_features(tiny_llama):
    from featurepedia.sources.neurons import NeuronSource

    source = NeuronSource(tiny_llama, 1)
    with pytest.raises(UsageError, match="steered features is 33; the limit is 32"):
        steer(tiny_llama, PROMPT, [SteerFeature(source, i, 1.0) for i in range(33)])


TEMPLATE = ("{% for m in messages %}<|bos|>{{ m['role'] }}\n{{ m['content'] }}<|endoftext|>\n{% endfor %}"
            "{% if add_generation_prompt %}<|bos|>assistant\n{% endif %}")


@pytest.fixture
def chat_model(model):
    tokenizer = copy.deepcopy(model.tokenizer)  # the tiny tokenizer is shared: leave it as it is
    tokenizer.chat_template = TEMPLATE
    return LanguageModel(model.model_id, model.hf, tokenizer, model.info)


MESSAGES = [{"role": "user", "content": "Paris is the capital"}]


@pytest.mark.parametrize("steer_special", [True, False])
def test_chat_uses_the_template_and_can_leave_special_tokens_unsteered(chat_model, sae, steer_special):
    tok = chat_model.tokenizer
    features = [SteerFeature(sae, 4, 0.5)]
    result = steer_chat(chat_model, MESSAGES, features, steer_special_tokens=steer_special,
                        sampling=Sampling(n_tokens=8))
    ids = list(tok(tok.apply_chat_template(MESSAGES, tokenize=False, add_generation_prompt=True),
                   add_special_tokens=False)["input_ids"])
    assert result.steered.prompt_ids == ids and ids[0] == tok.bos_token_id
    special = set(tok.all_special_ids)

    def hooks_for(seq):
        keep = torch.tensor([steer_special or t not in special for t in seq], dtype=torch.float32)[:, None]
        return [(sae.hook_name, lambda a: a + keep * 0.5 * sae.W_dec[4])]

    assert result.steered.token_ids == _reference_greedy(chat_model, ids, 8, hooks_for)
    assert result.default.token_ids == _reference_greedy(chat_model, ids, 8, lambda seq: [])


def test_chat_with_two_conversations_and_without_a_template(chat_model, model, sae):
    longer = [*MESSAGES, {"role": "assistant", "content": "of France"}, {"role": "user", "content": "and?"}]
    result = steer_chat(chat_model, MESSAGES, [SteerFeature(sae, 4, 0.0)], default_messages=longer,
                        sampling=Sampling(n_tokens=5))
    assert len(result.default.prompt_ids) > len(result.steered.prompt_ids)
    assert result.default.token_ids == generate(chat_model, result.default.prompt_ids, Sampling(n_tokens=5)).token_ids
    with pytest.raises(UsageError, match="has no chat template"):
        steer_chat(model, MESSAGES, [])
    with pytest.raises(UsageError, match="chat message 0 must be"):
        steer_chat(chat_model, [{"role": "robot", "content": "hi"}], [])


def test_generation_past_the_context_window_is_refused(tiny_gpt2):
    from featurepedia.errors import UsageError
    from featurepedia.inference.generation import Sampling, context_window

    window = context_window(tiny_gpt2)
    assert window == tiny_gpt2.hf.config.n_positions
    prompt_len = len(tiny_gpt2.to_tokens("The quick brown fox"))
    with pytest.raises(UsageError, match="context of"):
        generate(tiny_gpt2, "The quick brown fox", Sampling(n_tokens=window - prompt_len + 1))
