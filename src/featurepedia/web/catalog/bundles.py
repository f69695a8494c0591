"""Export a source from the database to a Parquet bundle, and import a bundle into the database."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from featurepedia.dashboards.parquet import ParquetSink, read_features, read_run
from featurepedia.dashboards.results import Example, FeatureDashboard, RunInfo
from featurepedia.errors import NotFoundError
from featurepedia.web.catalog.models import Feature, Source
from featurepedia.web.catalog.sink import DatabaseSink


class CatalogError(NotFoundError):
    """A model or source asked for is not in the database."""


def find_source(model_slug: str, source_slug: str) -> Source:
    """The stored source, or CatalogError listing what is stored."""
    try:
        return Source.objects.select_related("model").get(model__slug=model_slug, slug=source_slug)
    except Source.DoesNotExist:
        stored = ", ".join(str(s) for s in Source.objects.select_related("model")) or "none"
        raise CatalogError(f"no source {model_slug}/{source_slug} in the database; stored: {stored}") from None


def export_source(model_slug: str, source_slug: str, folder: Path, chunk: int = 256) -> int:
    """Write one source as a Parquet bundle; returns the number of features written."""
    source = find_source(model_slug, source_slug)
    run = RunInfo(**source.config) if source.config else RunInfo(
        model_id=model_slug, model_info=source.model.info, n_layers=source.model.n_layers,
        d_model=source.model.d_model,
        source={"source_id": source.slug, "kind": source.kind, "hook_name": source.hook_name,
                "n_features": source.n_features}, config={})
    sink = ParquetSink(folder)
    sink.begin(run)
    written = 0
    for features in _dashboard_chunks(source, chunk):
        sink.write_features(features)
        written += len(features)
    sink.finish(run)
    return written


def _dashboard_chunks(source: Source, chunk: int) -> Iterator[list[FeatureDashboard]]:
    """The source's stored features as FeatureDashboards, ``chunk`` at a time in index order."""
    last = -1
    while True:
        rows = list(Feature.objects.filter(source=source, index__gt=last).order_by("index")
                    .prefetch_related("examples")[:chunk])
        if not rows:
            return
        last = rows[-1].index
        yield [_stored_dashboard(f) for f in rows]


def _stored_dashboard(f: Feature) -> FeatureDashboard:
    examples = [Example(token_ids=e.token_ids, tokens=e.tokens, notes={int(k): v for k, v in e.notes.items()},
                        special=e.special, values=e.values, max_value=e.max_value, max_index=e.max_index, bin=e.bin, rank=e.rank)
                for e in sorted(f.examples.all(), key=lambda e: (e.bin, e.rank))]
    return FeatureDashboard(
        index=f.index, max_act=f.max_act, min_act=f.min_act, density=f.density, hist_counts=f.hist_counts,
        hist_lo=f.hist_lo, hist_hi=f.hist_hi, top_logits=[tuple(t) for t in f.top_logits],
        bottom_logits=[tuple(t) for t in f.bottom_logits], neighbours=[tuple(n) for n in f.neighbours],
        examples=examples)


def import_bundle(folder: Path) -> RunInfo:
    """Load a Parquet bundle into the database (features upserted, examples replaced)."""
    run = read_run(folder)
    sink = DatabaseSink()
    sink.begin(run)
    for features in read_features(folder):
        sink.write_features(features)
    sink.finish(run)
    return run
