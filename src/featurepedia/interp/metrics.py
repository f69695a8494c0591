"""Small, dependency-light metrics with the edge cases scorers need (ties, constants, NaN)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy.stats import rankdata


def auroc(labels: Sequence[bool] | np.ndarray, scores: Sequence[float] | np.ndarray) -> float:
    """Area under the ROC curve (ties count one half); 0.5 when a class is missing, NaN scores count as 0."""
    # Equal to scikit-learn's roc_auc_score (checked on random data with ties), which instead warns and
    # returns NaN for one class and raises on NaN: a score must stay a number, so these few lines it is.
    y = np.asarray(labels, dtype=bool)
    s = np.nan_to_num(np.asarray(scores, dtype=np.float64), nan=0.0)
    n_pos, n_neg = int(y.sum()), int((~y).sum())
    if n_pos == 0 or n_neg == 0:
        return 0.5
    ranks = rankdata(s)  # average ranks handle ties (Mann-Whitney U)
    return float((ranks[y].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def pearson_or_zero(x: Sequence[float] | np.ndarray, y: Sequence[float] | np.ndarray) -> float:
    """Pearson correlation; 0 when either side is constant or anything is not finite."""
    a = np.asarray(x, dtype=np.float64).ravel()
    b = np.asarray(y, dtype=np.float64).ravel()
    if a.size < 2 or a.size != b.size or not (np.isfinite(a).all() and np.isfinite(b).all()):
        return 0.0
    a, b = a - a.mean(), b - b.mean()
    denom = float(np.sqrt((a * a).sum() * (b * b).sum()))
    if denom <= 1e-12 * max(1.0, a.size):
        return 0.0
    r = float((a * b).sum() / denom)
    return r if np.isfinite(r) else 0.0


def balanced_accuracy(labels: Sequence[bool] | np.ndarray, predictions: Sequence[bool] | np.ndarray) -> float:
    """Mean of the true-positive and true-negative rates (a missing class counts as 0.5)."""
    y = np.asarray(labels, dtype=bool)
    p = np.asarray(predictions, dtype=bool)
    tpr = float((p & y).sum() / y.sum()) if y.any() else 0.5
    tnr = float((~p & ~y).sum() / (~y).sum()) if (~y).any() else 0.5
    return (tpr + tnr) / 2
