"""The Bradley–Terry fit with a prior (game/ranking.py): it recovers a known order from synthetic choices,
equals a general optimiser on the same posterior, and fuses the prior and "both bad" as documented."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.optimize import minimize
from scipy.stats import spearmanr

from featurepedia.web.game import ranking
from featurepedia.web.game.ranking import REFERENCE, Outcome, fit


def simulate(true: np.ndarray, n: int, rng: np.random.Generator) -> list[Outcome]:
    """n choices between random pairs, each won with the BT probability of the true ratings."""
    outcomes = []
    for _ in range(n):
        i, j = rng.choice(len(true), 2, replace=False)
        p = 1 / (1 + np.exp(true[j] - true[i]))
        outcomes.append(Outcome(int(i), int(j)) if rng.random() < p else Outcome(int(j), int(i)))
    return outcomes


def test_synthetic_choices_recover_the_known_order():
    rng = np.random.default_rng(7)
    true = np.linspace(1.5, -1.5, 8)  # best first
    # 2,000 choices: each adjacent gap (0.43) is then about 3 standard errors, so the exact order is expected
    ratings, sds = fit(np.zeros(8), simulate(true, 2000, rng), prior_sd=3.0)
    assert list(np.argsort(-ratings)) == list(range(8))
    # the differences are on the true scale (the absolute level is set by the prior alone)
    assert np.max(np.abs((ratings - ratings.mean()) - (true - true.mean()))) < 0.35
    few, _ = fit(np.zeros(8), simulate(true, 60, np.random.default_rng(1)), prior_sd=3.0)
    assert spearmanr(few, true).statistic > 0.8  # already close with few choices
    assert np.all(sds > 0)


def test_the_fit_is_the_mode_a_general_optimiser_finds():
    rng = np.random.default_rng(3)
    means = rng.normal(0, 1, 5)
    outcomes = simulate(rng.normal(0, 1, 5), 40, rng) + [Outcome(REFERENCE, 2, 0.5), Outcome(REFERENCE, 4, 0.5),
                                                          Outcome(1, REFERENCE, 1.0)]
    ratings, sds = fit(means, outcomes)
    ref = minimize(ranking.neg_log_posterior, means, args=(means, outcomes), method="BFGS", options={"gtol": 1e-9})
    assert np.allclose(ratings, ref.x, atol=1e-5)
    # Laplace sds: the inverse Hessian of the same objective, by finite differences
    eps = 1e-4
    hess = np.zeros((5, 5))
    for i in range(5):
        for j in range(5):
            d_i, d_j = np.eye(5)[i] * eps, np.eye(5)[j] * eps
            f = lambda x: ranking.neg_log_posterior(x, means, outcomes)  # noqa: E731
            hess[i, j] = (f(ratings + d_i + d_j) - f(ratings + d_i - d_j) - f(ratings - d_i + d_j)
                          + f(ratings - d_i - d_j)) / (4 * eps * eps)
    assert np.allclose(sds, np.sqrt(np.diag(np.linalg.inv(hess))), rtol=1e-3)


def test_scores_set_the_order_until_choices_overturn_it():
    means = [ranking.prior_mean(0.9), ranking.prior_mean(0.6), ranking.prior_mean(None)]
    alone, sds = fit(means, [])
    assert np.allclose(alone, means) and np.allclose(sds, ranking.PRIOR_SD)
    assert means[0] > means[2] > means[1]  # no score sits at the centre
    overturned, _ = fit(means, [Outcome(1, 0)] * 15)
    assert overturned[1] > overturned[0]
    few, _ = fit(means, [Outcome(1, 0)] * 2)
    assert few[0] > few[1]  # two choices do not overturn a score gap of 0.3 (1.8 in rating)


def test_both_bad_lowers_both_without_ordering_them():
    base, _ = fit([0.5, 0.5], [])
    bad, sds = fit([0.5, 0.5], [Outcome(REFERENCE, 0, 0.5), Outcome(REFERENCE, 1, 0.5)] * 10)
    assert bad[0] == pytest.approx(bad[1]) and bad[0] < base[0] - 0.4 and sds[0] < ranking.PRIOR_SD


def test_no_items_and_win_probability():
    ratings, sds = fit([], [])
    assert ratings.shape == sds.shape == (0,)
    assert ranking.win_probability(1.0, 0.0) == pytest.approx(1 / (1 + np.exp(-1)))
