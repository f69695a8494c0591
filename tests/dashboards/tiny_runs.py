"""Small dashboard runs on the tiny models, shared by the pipeline, shard and multi-source tests."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from featurepedia.corpus import ContextSpec
from featurepedia.dashboards import ParquetSink, RunConfig, read_features, run_dashboards
from featurepedia.sources import source_for


def tiny_config(n_tokens: int, seed: int = 0, **kw: Any) -> RunConfig:
    """A run of the tiny Llama's ``1-mlp`` over ``n_tokens`` in 32-token contexts, small enough for tests;
    ``kw`` overrides any field (model, source, sae_path, contexts, ...)."""
    options: dict[str, Any] = dict(model="tiny-llama", source="1-mlp", n_tokens=n_tokens, batch_size=16, top_k=5,
                                   quantile_bins=4, per_bin=2, n_negative=3,
                                   contexts=ContextSpec(ctx_len=32, seed=seed))
    options.update(kw)
    return RunConfig(**options)


def build_bundle(model: Any, folder: Path, name: str, config: RunConfig, **kw: Any) -> Path:
    """Build ``config``'s source into the bundle folder/name (its run folder: folder/run-name)."""
    source = source_for(model, config.source, sae_path=config.sae_path)
    run_dashboards(model, source, config, ParquetSink(folder / name), folder / f"run-{name}", progress=False, **kw)
    return folder / name


def bundle_features(bundle: Path) -> list[Any]:
    """Every feature of a bundle, in order."""
    return [f for chunk in read_features(bundle) for f in chunk]
