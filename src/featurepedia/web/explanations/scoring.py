"""Explaining and scoring stored features: catalog examples -> interp records -> stored scores.

The web (on submit), the CLI (`featurepedia explain` / `score`) and `demo` all go through here, so a score
means the same everywhere: the held-out split of the feature's stored examples (Bills et al.), with
non-activating examples always included.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import numpy as np
from django.db import transaction
from django_tasks import task
from django_tasks.backends.immediate import ImmediateBackend

from featurepedia.interp import (
    ActivationRecord,
    HeldOutSplit,
    InterpError,
    RecordError,
    get_explainer,
    get_scorer,
    held_out_split,
)
from featurepedia.web.catalog.models import ActivationExample, Feature
from featurepedia.web.explanations.models import Explanation, ExplanationScore

log = logging.getLogger(__name__)

# Chosen from bench/autointerp.py: see docs/autointerp.md for the figures behind it.
DEFAULT_SCORER = "form"
DEFAULT_EXPLAINER = "pattern"


@dataclass
class FeatureRecords:
    """A feature's stored examples as activation records (values below its activity threshold are 0)."""

    top: list[ActivationRecord]
    quantile: list[ActivationRecord]
    non_activating: list[ActivationRecord]

    def split(self, require_non_activating: bool = True) -> HeldOutSplit:
        """Held-out split; raises RecordError when the feature has no non-activating example to score against
        (unless ``require_non_activating`` is False: a token-level scorer compares the activating examples'
        active and quiet tokens)."""
        return held_out_split(self.top, self.quantile, self.non_activating,
                              require_non_activating=require_non_activating)

    def for_explaining(self) -> list[ActivationRecord]:
        """The records an explainer sees: the split's explain side, or every other top one if unscorable."""
        if self.non_activating:
            return self.split().explain
        return self.top[0::2][:10]


def activity_threshold(feature: Feature) -> float:
    """The activation above which the feature counts as active (the density rule its run used)."""
    # Imported here: the dashboards package loads torch, which pages that only show explanations do not need.
    from featurepedia.dashboards.density import activity_threshold as rule

    source = feature.source
    return rule(feature.max_act, source.nonnegative, source.active_fraction)


def feature_records(feature: Feature) -> FeatureRecords:
    """Records for explaining and scoring, from the stored examples (the BOS position is left out)."""
    threshold = activity_threshold(feature)
    start = feature.source.first_shown
    top: list[tuple[int, ActivationRecord]] = []
    quantile: list[ActivationRecord] = []
    negative: list[ActivationRecord] = []
    examples = ActivationExample.objects.filter(feature=feature).only("bin", "rank", "tokens", "values")
    for e in examples:
        record = ActivationRecord(tokens=list(e.tokens[start:]),
                                  values=[v if v > threshold else 0.0 for v in e.values[start:]])
        if e.bin == "top":
            top.append((e.rank, record))
        elif e.bin == "negative":
            negative.append(record)
        else:
            quantile.append(record)
    return FeatureRecords([r for _, r in sorted(top, key=lambda x: x[0])], quantile, negative)


def explain_feature(feature: Feature, explainer_name: str = DEFAULT_EXPLAINER, **options: Any) -> Explanation:
    """Write (or rewrite) the feature's explanation by a method; idempotent per (feature, method)."""
    explainer = get_explainer(explainer_name, **options)
    records = feature_records(feature)
    if not records.top:
        raise RecordError(f"feature {feature.index} has no stored examples; build its source first")
    text = explainer.explain(records.for_explaining())
    details = {"explainer": explainer.name, "version": explainer.version, **explainer.last_details}
    with transaction.atomic():
        explanation, created = Explanation.objects.get_or_create(
            feature=feature, method=explainer.method, defaults={"text": text, "details": details})
        if not created and explanation.text != text:
            explanation.text, explanation.details = text, details
            explanation.save()
            explanation.scores.all().delete()  # scores of the old text no longer apply
    return explanation


def score_explanation(explanation: Explanation, scorer_name: str | None = None) -> ExplanationScore:
    """Score an explanation now and store the result; a scorer failure is stored as "failed", not raised."""
    name = scorer_name or DEFAULT_SCORER
    row, _ = ExplanationScore.objects.get_or_create(explanation=explanation, scorer=name)
    try:
        scorer = get_scorer(name)
        records = feature_records(explanation.feature)
        token_level = bool(getattr(scorer, "token_level", False))
        if records.top and not records.non_activating and not token_level:
            density = explanation.feature.density
            raise RecordError(f"feature {explanation.feature.index} is active in every sampled context "
                              f"(density {density:.1%}), so there is no non-activating text to score against; "
                              "rebuild the source with more tokens to find some")
        result = scorer.score(explanation.text, records.split(require_non_activating=not token_level).score)
    except InterpError as err:
        row.status, row.error, row.value = ExplanationScore.Status.FAILED, str(err), None
        row.save()
        log.warning("scoring explanation %s with %s failed: %s", explanation.pk, name, err)
        return row
    row.value = float(result.value)
    row.version = str(result.details.get("version", scorer.version))
    row.details = result.details
    row.status, row.error = ExplanationScore.Status.OK, ""
    row.save()
    return row


@task()
def score_task(explanation_id: int, scorer_name: str | None = None) -> float | None:
    """The task form of score_explanation (runs in-process in embedded mode, on a worker in production)."""
    explanation = Explanation.objects.select_related("feature__source").get(pk=explanation_id)
    return score_explanation(explanation, scorer_name).value


def queue_is_durable() -> bool:
    """Whether tasks are stored for workers (production's database queue) rather than run at once."""
    return not isinstance(score_task.get_backend(), ImmediateBackend)


def enqueue_score(explanation: Explanation, scorer_name: str | None = None) -> None:
    """Submit scoring through the task framework; a pending row shows until the score lands.

    Call it inside the transaction that writes the explanation when the queue is durable (the task row is
    then committed with it, or neither is); the immediate backend of embedded mode scores right here.
    """
    ExplanationScore.objects.get_or_create(explanation=explanation, scorer=scorer_name or DEFAULT_SCORER)
    score_task.enqueue(explanation.pk, scorer_name)


def embed_texts(texts: list[str]) -> np.ndarray:
    """Unit-length sentence embeddings [n, 384] from the bundled MiniLM (for near-duplicate detection)."""
    from featurepedia.interp.backends.sentence import embed

    return embed(texts)
