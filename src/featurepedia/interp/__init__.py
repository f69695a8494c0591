"""Autointerp: explainers write explanations of features, scorers measure them on activation records.

    from featurepedia.interp import ActivationRecord, get_explainer, get_scorer, held_out_split
    split = held_out_split(top, quantile, non_activating)
    text = get_explainer("token-list").explain(split.explain)
    result = get_scorer("embedding").score(text, split.score)   # ScoreResult(value, details)
"""

from featurepedia.interp.base import Explainer, Scorer, ScoreResult
from featurepedia.interp.errors import (
    InterpError,
    InvalidExplanation,
    RecordError,
    ScorerUnavailable,
    UnknownComponentError,
)
from featurepedia.interp.records import (
    MAX_EXPLANATION_CHARS,
    ActivationRecord,
    records_hash,
    validate_explanation,
)
from featurepedia.interp.registry import (
    get_explainer,
    get_scorer,
    list_explainers,
    list_scorers,
    register_explainer,
    register_scorer,
)
from featurepedia.interp.split import HeldOutSplit, held_out_split

__all__ = [
    "MAX_EXPLANATION_CHARS",
    "ActivationRecord",
    "Explainer",
    "HeldOutSplit",
    "InterpError",
    "InvalidExplanation",
    "RecordError",
    "ScoreResult",
    "Scorer",
    "ScorerUnavailable",
    "UnknownComponentError",
    "get_explainer",
    "get_scorer",
    "held_out_split",
    "list_explainers",
    "list_scorers",
    "records_hash",
    "register_explainer",
    "register_scorer",
    "validate_explanation",
]
