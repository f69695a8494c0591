"""Top features over a text and the top k at each token, against brute force."""

from __future__ import annotations

import pytest
import torch

from featurepedia.errors import UsageError
from featurepedia.inference import top_features, top_features_of_sources, topk_by_token
from tests.inference.conftest import TEXTS, reference_acts

TEXT = TEXTS[0]


def _brute_ranking(acts, positions, nonnegative, n):
    scores = acts[positions].max(dim=0).values
    order = sorted(range(acts.shape[1]), key=lambda f: (-float(scores[f]), f))
    if nonnegative:
        order = [f for f in order if scores[f] > 0]
    return order[:n], scores


def test_sorted_by_max_over_positions_after_bos(model, source):
    result = top_features(model, source, TEXT, num_results=10)
    ids = model.to_tokens(TEXT)
    acts = reference_acts(model, source, ids)
    want, scores = _brute_ranking(acts, list(range(1, len(ids))), source.nonnegative, 10)
    assert [f.index for f in result.features] == want
    maxes = [f.max_value for f in result.features]
    assert maxes == sorted(maxes, reverse=True) and len(maxes) == 10
    for f in result.features:
        assert f.max_value == pytest.approx(float(scores[f.index]), abs=1e-5)
        assert f.max_index >= 1 and f.values[0] == 0.0
        assert f.values[f.max_index] == pytest.approx(f.max_value, abs=1e-6)
    assert result.sort_indexes == list(range(1, len(ids)))


def test_sort_indexes_rank_by_the_chosen_positions(model, source):
    ids = model.to_tokens(TEXT)
    chosen = [0, 3, 4]
    result = top_features(model, source, TEXT, num_results=8, sort_indexes=chosen)
    acts = reference_acts(model, source, ids)
    want, _ = _brute_ranking(acts, [3, 4], source.nonnegative, 8)  # BOS (0) ignored
    assert [f.index for f in result.features] == want
    assert all(f.max_index in (3, 4) for f in result.features) and result.sort_indexes == [3, 4]
    with pytest.raises(UsageError, match="only position 0"):
        top_features(model, source, TEXT, sort_indexes=[0])
    with pytest.raises(UsageError, match="not a token position"):
        top_features(model, source, TEXT, sort_indexes=[len(ids)])


def test_ignore_bos_false_ranks_the_bos_position_too(model, neurons):
    ids = model.to_tokens(TEXT)
    acts = reference_acts(model, neurons, ids)
    # Make the BOS position decide: rank by BOS and one other position.
    result = top_features(model, neurons, TEXT, num_results=5, sort_indexes=[0, 1], ignore_bos=False)
    want, _ = _brute_ranking(acts, [0, 1], False, 5)
    assert [f.index for f in result.features] == want
    assert result.features[0].values[0] == pytest.approx(float(acts[0, want[0]]), abs=1e-5)


def test_density_threshold_drops_dense_features(model, source):
    plain = top_features(model, source, TEXT, num_results=6)
    dense = {f.index for f in plain.features[:3]}
    densities = torch.zeros(source.n_features)
    densities[list(dense)] = 0.5
    filtered = top_features(model, source, TEXT, num_results=6, densities=densities, density_threshold=0.2)
    assert dense.isdisjoint(f.index for f in filtered.features)
    assert [f.index for f in filtered.features][:3] == [f.index for f in plain.features[3:6]]
    kept = top_features(model, source, TEXT, num_results=6, densities=densities, density_threshold=0.5)
    assert [f.index for f in kept.features] == [f.index for f in plain.features]  # "above" the threshold
    with pytest.raises(UsageError, match="one per feature"):
        top_features(model, source, TEXT, densities=torch.zeros(3), density_threshold=0.1)


def test_several_sources_are_ranked_together(model, neurons, sae, sae0):
    sources = [sae0, neurons, sae]
    merged = top_features_of_sources(model, sources, TEXT, num_results=12)
    singles = [(f.max_value, s, f.index) for s, src in enumerate(sources)
               for f in top_features(model, src, TEXT, num_results=12).features]
    want = sorted(singles, key=lambda c: (-c[0], c[1], c[2]))[:12]
    assert [(f.source_id, f.index) for f in merged.features] == [(sources[s].source_id, i) for _, s, i in want]


def test_sae_features_that_do_not_fire_are_not_listed(model, sae):
    result = top_features(model, sae, TEXT, num_results=100)
    assert result.features and all(f.max_value > 0 for f in result.features)
    assert len(result.features) < sae.n_features


def test_topk_by_token_matches_brute_force(model, source):
    text = TEXT + "<|endoftext|> more"
    result = topk_by_token(model, source, text, k=4)
    ids = model.to_tokens(text)
    acts = reference_acts(model, source, ids)
    assert [p.position for p in result.positions] == list(range(1, len(ids)))  # BOS left out
    for p in result.positions:
        order = sorted(range(source.n_features), key=lambda f: (-float(acts[p.position, f]), f))
        if source.nonnegative:
            order = [f for f in order if acts[p.position, f] > 0]
        assert [f for f, _ in p.features] == order[:4]
        for f, value in p.features:
            assert value == pytest.approx(float(acts[p.position, f]), abs=1e-5)
    special = [p.position for p in result.positions if p.is_special]
    assert [ids[i] for i in special] == [model.tokenizer.eos_token_id]
    with_bos = topk_by_token(model, source, text, k=2, ignore_bos=False)
    assert with_bos.positions[0].position == 0 and with_bos.positions[0].is_special


def test_topk_by_token_density_threshold(model, neurons):
    plain = topk_by_token(model, neurons, TEXT, k=3)
    top = plain.positions[2].features[0][0]
    densities = torch.zeros(neurons.n_features)
    densities[top] = 0.9
    filtered = topk_by_token(model, neurons, TEXT, k=3, densities=densities, density_threshold=0.5)
    assert all(top not in [f for f, _ in p.features] for p in filtered.positions)


def test_limits(tiny_llama):
    from featurepedia.sources.neurons import NeuronSource

    source = NeuronSource(tiny_llama, 0)
    with pytest.raises(UsageError, match="num_results is 101; the limit is 100"):
        top_features(tiny_llama, source, TEXT, num_results=101)
    with pytest.raises(UsageError, match="the limit is 20"):
        topk_by_token(tiny_llama, source, TEXT, k=21)
    with pytest.raises(UsageError, match="density_threshold is nan"):
        top_features(tiny_llama, source, TEXT, densities=torch.zeros(source.n_features),
                     density_threshold=float("nan"))
