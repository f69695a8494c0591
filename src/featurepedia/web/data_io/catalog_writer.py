"""Writing imported features into the catalog, idempotently: a model and source by slug, features by index,
their examples replaced, explanations by (feature, method), scores by (explanation, scorer).

Importing the same files again updates the same rows: nothing is duplicated, and explanations written on
the site (by people or other methods) are left alone.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.db import transaction

from featurepedia.errors import UsageError
from featurepedia.interp import MAX_EXPLANATION_CHARS
from featurepedia.web.catalog.models import ActivationExample, Feature, LanguageModel, Source
from featurepedia.web.explanations.models import Explanation, ExplanationScore
from featurepedia.web.text_rules import storable


@dataclass
class NewExample:
    bin: str
    rank: int
    tokens: list[str]
    values: list[float]

    @property
    def max_index(self) -> int:
        return max(range(len(self.values)), key=self.values.__getitem__) if self.values else 0


@dataclass
class NewScore:
    scorer: str
    value: float | None
    version: str = ""
    details: dict[str, Any] = field(default_factory=dict)


@dataclass
class NewExplanation:
    text: str
    method: str
    details: dict[str, Any] = field(default_factory=dict)
    scores: list[NewScore] = field(default_factory=list)


@dataclass
class SourceInfo:
    model: str
    source: str
    kind: str
    hook_name: str = ""
    model_name: str = ""
    n_layers: int = 0
    d_model: int = 0
    prepend_bos: bool = False
    origin: dict[str, Any] = field(default_factory=dict)


@dataclass
class Counts:
    features: int = 0
    examples: int = 0
    explanations: int = 0
    scores: int = 0

    def __str__(self) -> str:
        return (f"{self.features} features, {self.examples} examples, {self.explanations} explanations, "
                f"{self.scores} scores")


FEATURE_STATS = ("max_act", "min_act", "density", "hist_counts", "hist_lo", "hist_hi", "top_logits",
                 "bottom_logits", "neighbours")


class CatalogWriter:
    """Upserts one source's imported features; ``finish`` records the source's size and marks it ready."""

    def __init__(self, info: SourceInfo) -> None:
        model, _ = LanguageModel.objects.get_or_create(slug=info.model, defaults={"name": info.model_name})
        changed = {k: v for k, v in (("name", info.model_name), ("n_layers", info.n_layers),
                                     ("d_model", info.d_model)) if v and getattr(model, k) != v}
        if changed:
            LanguageModel.objects.filter(pk=model.pk).update(**changed)
            model.refresh_from_db()
        self.source, _ = Source.objects.get_or_create(
            model=model, slug=info.source, defaults={"kind": info.kind, "hook_name": info.hook_name})
        if self.source.config and "imported" not in self.source.config:
            raise UsageError(f"source {self.source} was built on this site (its dashboards would be replaced); "
                             "import into another source id (--source), e.g. "
                             f"{info.source}-{info.origin.get('format', 'imported').split('-')[0]}")
        self.source.kind = info.kind
        self.source.hook_name = info.hook_name or self.source.hook_name
        nonnegative = info.kind == "sae"
        config = dict(self.source.config)
        config.setdefault("source", {}).update({"source_id": info.source, "kind": info.kind,
                                                "hook_name": self.source.hook_name, "nonnegative": nonnegative})
        config.setdefault("config", {}).update({"active_fraction": 0.1, "contexts": {"prepend_bos": info.prepend_bos}})
        config["imported"] = info.origin
        self.source.config = config
        self.source.save()
        self.counts = Counts()

    def feature(self, index: int, stats: dict[str, Any] | None = None) -> Feature:
        """The feature at ``index``, created if new; ``stats`` (FEATURE_STATS keys) update it."""
        stats = {k: v for k, v in (stats or {}).items() if k in FEATURE_STATS}
        for key in ("top_logits", "bottom_logits"):
            if key in stats:
                stats[key] = [[storable(t), v] for t, v in stats[key]]
        row, created = Feature.objects.get_or_create(source=self.source, index=index, defaults=stats)
        if stats and not created:
            Feature.objects.filter(pk=row.pk).update(**stats)
            for key, value in stats.items():
                setattr(row, key, value)
        if stats or created:
            self.counts.features += 1
        return row

    @transaction.atomic
    def examples(self, feature: Feature, examples: list[NewExample]) -> None:
        """Replace the feature's examples; its max_act grows to their maximum."""
        feature.examples.all().delete()
        ActivationExample.objects.bulk_create([
            ActivationExample(feature=feature, bin=e.bin, rank=e.rank, tokens=[storable(t) for t in e.tokens],
                              token_ids=[], values=e.values, max_value=max(e.values, default=0.0),
                              max_index=e.max_index) for e in examples])
        top = max((max(e.values, default=0.0) for e in examples), default=0.0)
        low = min((min(e.values, default=0.0) for e in examples), default=0.0)
        if top > feature.max_act or low < feature.min_act:
            feature.max_act, feature.min_act = max(top, feature.max_act), min(low, feature.min_act)
            Feature.objects.filter(pk=feature.pk).update(max_act=feature.max_act, min_act=feature.min_act)
        self.counts.examples += len(examples)

    @transaction.atomic
    def explanation(self, feature: Feature, new: NewExplanation) -> Explanation:
        """Create or update the feature's explanation by this method, and its scores."""
        row, _ = Explanation.objects.get_or_create(feature=feature, method=new.method[:100],
                                                   defaults={"text": new.text[:MAX_EXPLANATION_CHARS]})
        row.text, row.details, row.status = new.text[:MAX_EXPLANATION_CHARS], new.details, Explanation.Status.LIVE
        row.save()
        for score in new.scores:
            ok = score.value is not None
            ExplanationScore.objects.update_or_create(
                explanation=row, scorer=score.scorer[:64],
                defaults={"version": score.version[:32], "value": score.value, "details": score.details,
                          "status": ExplanationScore.Status.OK if ok else ExplanationScore.Status.FAILED,
                          "error": "" if ok else "the imported score is undefined"})
            self.counts.scores += 1
        self.counts.explanations += 1
        return row

    def finish(self) -> Source:
        self.source.n_features = max(self.source.n_features, (
            Feature.objects.filter(source=self.source).order_by("-index").values_list("index", flat=True)
            .first() or 0) + 1)
        self.source.status = Source.Status.READY
        self.source.save()
        return self.source
