"""Bradley–Terry ratings with a prior: people's pairwise choices fused with the automatic scores.

The model: P(i is judged better than j) = σ(θ_i − θ_j), with σ the logistic function, so a rating θ is a
log-odds. Each explanation's rating has a normal prior N(μ_i, PRIOR_SD²) whose mean comes from its automatic
score (``prior_mean``): with no comparisons the ranking is the automatic one, and every comparison moves it.
"Both bad" is a loss of each explanation to a fixed reference, a just-good-enough explanation at θ = 0, with
half weight each: it lowers both without saying which is better, and keeps ratings on one absolute scale
(an explanation at 0 is as good as the reference; +1 beats it 73% of the time).

The fit is the posterior mode (MAP) by Newton's method with backtracking; the uncertainty is the Laplace
approximation (each sd is the square root of a diagonal entry of the inverse Hessian at the mode). A library
was considered: choix fits BT with a zero-mean isotropic prior and returns no uncertainty, and neither a
per-item prior mean nor the "both bad" reference fits its interface. A feature has a handful of
explanations, so one exact Newton step on a dense n×n Hessian costs microseconds; the fit is checked against
a general optimiser and on synthetic choices in tests/web/test_ranking.py.

No Django here: ``fit`` takes indices and numbers.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

# The automatic score (the embedding scorer's AUROC: 0.5 is chance) sets the prior mean on the logit scale:
# PRIOR_SLOPE * (score - PRIOR_CENTER), so 0.9 -> +1.2 and 0.5 -> -1.2. Starting points; tune with data.
PRIOR_CENTER = 0.7
PRIOR_SLOPE = 6.0
# How much a score counts against people: about 7 consistent choices overturn a score gap of 0.3 (1.8 in
# rating), 2 or 3 a gap of 0.1; a tie in score is decided by the first choice.
PRIOR_SD = 0.5
BOTH_BAD_WEIGHT = 0.5  # each of the two losses to the reference
REFERENCE = -1  # stands for the just-good-enough explanation in an Outcome


@dataclass(frozen=True)
class Outcome:
    """One observed result: ``winner`` was judged better than ``loser`` (indices, or REFERENCE)."""

    winner: int
    loser: int
    weight: float = 1.0


def prior_mean(score: float | None) -> float:
    """The prior mean rating of an explanation with this automatic score (0 when it has none)."""
    if score is None or not np.isfinite(score):
        return 0.0
    return PRIOR_SLOPE * (float(score) - PRIOR_CENTER)


def win_probability(a: float, b: float) -> float:
    """P(an explanation rated ``a`` is judged better than one rated ``b``)."""
    return float(1.0 / (1.0 + np.exp(b - a)))


def neg_log_posterior(theta: np.ndarray, means: np.ndarray, outcomes: Sequence[Outcome],
                      prior_sd: float = PRIOR_SD) -> float:
    """The objective ``fit`` minimises (up to a constant); kept plain as the tests' reference."""
    full = np.append(theta, 0.0)  # the reference sits at index n (REFERENCE = -1 indexes it)
    total = float(np.sum((theta - means) ** 2) / (2 * prior_sd**2))
    for o in outcomes:
        total += o.weight * float(np.logaddexp(0.0, -(full[o.winner] - full[o.loser])))
    return total


def fit(means: Sequence[float], outcomes: Sequence[Outcome], prior_sd: float = PRIOR_SD,
        tol: float = 1e-10, max_iter: int = 100) -> tuple[np.ndarray, np.ndarray]:
    """MAP ratings and their Laplace standard deviations.

    Args:
        means: the prior mean of each of the n items.
        outcomes: results between items (indices 0..n-1) or against REFERENCE.
    Returns:
        (ratings [n], sds [n]).
    """
    mu = np.asarray(means, dtype=np.float64)
    n = mu.shape[0]
    if n == 0:
        return np.zeros(0), np.zeros(0)
    win = np.array([o.winner % (n + 1) for o in outcomes], dtype=np.int64)  # REFERENCE -> index n
    lose = np.array([o.loser % (n + 1) for o in outcomes], dtype=np.int64)
    w = np.array([o.weight for o in outcomes], dtype=np.float64)
    precision = 1.0 / prior_sd**2

    def objective(theta: np.ndarray) -> float:
        full = np.append(theta, 0.0)
        return float(np.sum(w * np.logaddexp(0.0, full[lose] - full[win])) + precision / 2 * np.sum((theta - mu) ** 2))

    def grad_hess(theta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        full = np.append(theta, 0.0)
        p = 1.0 / (1.0 + np.exp(full[lose] - full[win]))  # P(winner beats loser) now
        g = np.zeros(n + 1)
        np.add.at(g, win, -w * (1.0 - p))
        np.add.at(g, lose, w * (1.0 - p))
        h = np.zeros((n + 1, n + 1))
        c = w * p * (1.0 - p)
        np.add.at(h, (win, win), c)
        np.add.at(h, (lose, lose), c)
        np.add.at(h, (win, lose), -c)
        np.add.at(h, (lose, win), -c)
        return g[:n] + precision * (theta - mu), h[:n, :n] + precision * np.eye(n)

    theta = mu.copy()
    value = objective(theta)
    for _ in range(max_iter):
        g, h = grad_hess(theta)
        step = np.linalg.solve(h, g)
        t = 1.0
        while True:  # backtracking: the objective is strictly convex, so a short enough step always descends
            candidate = theta - t * step
            new = objective(candidate)
            if new <= value + 1e-4 * t * float(g @ -step) or t < 1e-8:
                break
            t /= 2
        theta, value = candidate, new
        if float(np.max(np.abs(t * step))) < tol:
            break
    _, h = grad_hess(theta)
    sds = np.sqrt(np.diag(np.linalg.inv(h)))
    return theta, sds
