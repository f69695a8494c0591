"""Explaining and scoring many stored features at once (``featurepedia explain``, ``score`` and ``demo``).

Each feature goes through ``scoring.explain_feature`` / ``score_explanation``, as on the site, so a batch
gives the same explanations and scores as one at a time.
"""

from __future__ import annotations

import re

from django.db.models import Q, QuerySet
from tqdm.auto import tqdm

from featurepedia.errors import FeaturepediaError, UsageError
from featurepedia.interp import get_explainer, get_scorer
from featurepedia.web.catalog.bundles import find_source
from featurepedia.web.catalog.models import Feature, Source
from featurepedia.web.explanations.models import Explanation, ExplanationScore
from featurepedia.web.explanations.scoring import DEFAULT_SCORER, explain_feature, score_explanation
from featurepedia.web.explanations.search_index import deferred_updates


def parse_indices(spec: str, n_features: int) -> list[int]:
    """'all', '5', '0-99' or '1,2,10-20' -> sorted feature indices; a bad spec is a UsageError saying why."""
    if spec.strip() == "all":
        return list(range(n_features))
    out: set[int] = set()
    for part in spec.split(","):
        lo, sep, hi = part.strip().partition("-")
        if not lo.isdigit() or (sep and not hi.isdigit()):
            raise UsageError(f"--features {spec!r}: {part!r} is not an index or range; use e.g. 0-99 or 1,2,10-20")
        first, last = int(lo), int(hi) if sep else int(lo)
        if first > last or last >= n_features:
            raise UsageError(f"--features {spec!r}: {part!r} is outside 0-{n_features - 1}")
        out.update(range(first, last + 1))
    return sorted(out)


def select_features(model_slug: str, source_slug: str, spec: str = "all") -> tuple[Source, QuerySet[Feature]]:
    """The stored source and its features picked by ``spec`` (see parse_indices), in index order."""
    source = find_source(model_slug, source_slug)
    indices = parse_indices(spec, source.n_features)
    return source, source.features.filter(index__in=indices).order_by("index")


def explain_features(features: QuerySet[Feature], explainer: str, force: bool = False, score: bool = True,
                     progress: bool = True) -> int:
    """Explain (and score) the features that lack an explanation by this method; returns how many were
    written. With ``force``, rewrite existing ones."""
    method = get_explainer(explainer).method
    if not force:
        features = features.exclude(explanations__method=method)
    written = 0
    # Embedding for the search index once at the end, in batches, instead of once per explanation.
    with deferred_updates():
        for feature in tqdm(list(features.select_related("source")), desc=f"explain ({explainer})",
                            unit="feature", disable=not progress):
            try:
                explanation = explain_feature(feature, explainer)
            except FeaturepediaError as err:
                # An explainer's message rarely names the feature; in a batch of thousands that is the clue.
                raise FeaturepediaError(f"feature {feature.index}: {err.message}", status=err.status) from err
            if score:
                score_explanation(explanation)
            written += 1
    return written


def is_older(stored: str, current: str) -> bool:
    """Whether a stored scorer version predates ``current`` ("2" < "10"; a version without digits is older
    when it differs)."""
    a, b = [int(x) for x in re.findall(r"\d+", stored or "")], [int(x) for x in re.findall(r"\d+", current)]
    return a < b if a and b else (stored or "") != current


def pending_explanations(features: QuerySet[Feature], scorer: str = DEFAULT_SCORER, force: bool = False,
                         rescore: bool = False) -> QuerySet[Explanation]:
    """The live explanations of ``features`` that have no OK score from ``scorer`` (all of them with
    ``force``); a failed score counts as pending, so a rerun retries it. With ``rescore``, also those whose
    OK score came from an older version of the scorer."""
    explanations = Explanation.objects.filter(feature__in=features, status=Explanation.Status.LIVE)
    if force:
        return explanations
    todo = explanations.exclude(scores__scorer=scorer, scores__status=ExplanationScore.Status.OK)
    if not rescore:
        return todo
    current = get_scorer(scorer).version
    stored = ExplanationScore.objects.filter(explanation__in=explanations, scorer=scorer,
                                             status=ExplanationScore.Status.OK)
    old = [pk for pk, version in stored.values_list("explanation_id", "version") if is_older(version, current)]
    return explanations.filter(Q(pk__in=todo.values("pk")) | Q(pk__in=old))


def score_pending(features: QuerySet[Feature], scorer: str | None = None, force: bool = False,
                  progress: bool = False, rescore: bool = False) -> tuple[int, int]:
    """Score the pending explanations of ``features`` (see pending_explanations); returns (scored, failed).

    Each score is stored as soon as it is computed, so an interrupted run resumes where it stopped. Only
    scores change: points already earned (play events) stay, and the best explanation, which is read from
    the scores, follows the new ranking.
    """
    scorer = scorer or DEFAULT_SCORER
    todo = list(pending_explanations(features, scorer, force, rescore).select_related("feature__source")
                .order_by("feature__index", "pk"))
    failed = 0
    for explanation in tqdm(todo, desc=f"score ({scorer})", unit="explanation", disable=not progress):
        failed += score_explanation(explanation, scorer).status == ExplanationScore.Status.FAILED
    return len(todo) - failed, failed
