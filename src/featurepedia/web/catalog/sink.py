"""The database sink of a dashboards run: upserts features, replaces their examples, in bulk.

Rebuilding a source never deletes its Feature rows (explanations and votes point at them): existing
features are updated in place and only their activation examples are replaced.
"""

from __future__ import annotations

from django.db import transaction

from featurepedia.dashboards.results import FeatureDashboard, RunInfo
from featurepedia.web.catalog.models import ActivationExample, Feature, LanguageModel, Source
from featurepedia.web.text_rules import storable

FEATURE_FIELDS = ["max_act", "min_act", "density", "hist_counts", "hist_lo", "hist_hi", "top_logits",
                  "bottom_logits", "neighbours"]


class DatabaseSink:
    """Writes dashboards to the catalog tables."""

    def __init__(self, batch_size: int = 2000) -> None:
        self.batch_size = batch_size
        self.source: Source | None = None

    def begin(self, run: RunInfo) -> None:
        model, _ = LanguageModel.objects.get_or_create(slug=run.model_id)
        model.name = run.model_info.get("hf_name", model.name or run.model_id)
        model.info = run.model_info
        model.n_layers, model.d_model = run.n_layers, run.d_model
        model.save()
        source, _ = Source.objects.get_or_create(
            model=model, slug=run.source["source_id"],
            defaults={"kind": run.source["kind"], "hook_name": run.source["hook_name"]})
        source.kind = run.source["kind"]
        source.hook_name = run.source["hook_name"]
        source.n_features = run.source["n_features"]
        source.status = Source.Status.BUILDING
        source.save()
        self.source = source

    def write_features(self, features: list[FeatureDashboard]) -> None:
        assert self.source is not None, "begin() first"
        with transaction.atomic():
            existing = dict(Feature.objects.filter(
                source=self.source, index__in=[f.index for f in features]).values_list("index", "id"))
            rows = [_unsaved_feature(self.source, f, existing.get(f.index)) for f in features]
            Feature.objects.bulk_update([r for r in rows if r.pk], FEATURE_FIELDS, batch_size=self.batch_size)
            Feature.objects.bulk_create([r for r in rows if not r.pk], batch_size=self.batch_size)
            ids = dict(Feature.objects.filter(
                source=self.source, index__in=[f.index for f in features]).values_list("index", "id"))
            ActivationExample.objects.filter(feature_id__in=ids.values()).delete()
            ActivationExample.objects.bulk_create(
                [ActivationExample(feature_id=ids[f.index], bin=e.bin, rank=e.rank, token_ids=e.token_ids,
                                   tokens=[storable(t) for t in e.tokens], notes={str(k): v for k, v in e.notes.items()},
                                   special=list(e.special),
                                   values=e.values_list(), max_value=e.max_value, max_index=e.max_index)
                 for f in features for e in f.examples],
                batch_size=self.batch_size)

    def abort(self) -> None:
        """Nothing to release: each chunk was its own transaction; the source stays "building" until a
        rebuild finishes it."""

    def finish(self, run: RunInfo) -> None:
        assert self.source is not None, "begin() first"
        self.source.config = run.to_dict()
        self.source.corpus = run.config.get("contexts", {}).get("corpus", "")
        self.source.n_tokens = run.n_tokens
        self.source.n_contexts = run.n_contexts
        self.source.density_threshold = run.density_threshold
        self.source.status = Source.Status.READY
        self.source.save()


def _unsaved_feature(source: Source, f: FeatureDashboard, pk: int | None) -> Feature:
    """The Feature row for a dashboard (pk: the stored row it updates, or None for a new one), not yet saved."""
    return Feature(
        pk=pk, source=source, index=f.index, max_act=f.max_act, min_act=f.min_act, density=f.density,
        hist_counts=f.hist_counts, hist_lo=f.hist_lo, hist_hi=f.hist_hi,
        top_logits=[[storable(t), v] for t, v in f.top_logits],
        bottom_logits=[[storable(t), v] for t, v in f.bottom_logits],
        neighbours=[list(n) for n in f.neighbours],
    )
