"""Live activations on the real model equal what the dashboards pipeline stores for the same contexts."""

from __future__ import annotations

import pytest

from featurepedia.corpus import ContextSpec
from featurepedia.dashboards import ParquetSink, RunConfig, read_features, run_dashboards
from featurepedia.inference import activations
from featurepedia.sources import source_for

FEATURES = [0, 1, 77, 500, 1024, 1535]


@pytest.mark.slow
def test_live_activations_equal_stored_dashboard_values(real_model, tmp_path):
    config = RunConfig(model=real_model.model_id, source="6-mlp", n_tokens=64 * 8, batch_size=8,
                       contexts=ContextSpec(ctx_len=64))
    source = source_for(real_model, "6-mlp")
    run_dashboards(real_model, source, config, ParquetSink(tmp_path / "out"), tmp_path / "run", progress=False)
    stored = {f.index: f for chunk in read_features(tmp_path / "out") for f in chunk}
    strongest = max(stored.values(), key=lambda f: f.max_act).index
    indices = [*FEATURES, strongest]
    contexts = {tuple(e.token_ids) for i in indices for e in stored[i].examples}
    assert len(contexts) == 8 and all(len(c) == 64 for c in contexts)
    live = {tuple(r.token_ids): r for r in activations(real_model, source, indices, [list(c) for c in contexts])}
    compared = 0
    for j, index in enumerate(indices):
        feature = stored[index]
        # Stored values keep 5 significant digits of the feature's largest |activation| (finalize._decimals):
        # half a unit of that, plus float noise from batching 8 contexts against 1.
        scale = max(abs(feature.max_act), abs(feature.min_act))
        tolerance = 0.5e-4 * scale + 1e-5 * scale + 1e-6
        for example in feature.examples:
            got = live[tuple(example.token_ids)].features[j]
            assert got.index == index
            assert got.values == pytest.approx(example.values_list(), abs=tolerance)
            compared += 1
        corpus_max = max(live[c].features[j].max_value for c in contexts)
        assert corpus_max == pytest.approx(feature.max_act, abs=tolerance)
    assert compared >= 8 * len(indices)  # every context of every feature is among its examples
