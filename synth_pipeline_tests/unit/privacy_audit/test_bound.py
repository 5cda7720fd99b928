"""The one-run audit's ε lower bound (synth_pipeline.privacy_audit.bound) against independent
computations, and its guesses. No model is fitted here."""

import math

import numpy as np
import pytest
from scipy.special import logit
from scipy.stats import beta, binom

from synth_pipeline.privacy_audit import audit_guesses, epsilon_lower_bound, p_value
from synth_pipeline.privacy_audit.bound import guess_grid


# -- the bound ------------------------------------------------------------------------------
@pytest.mark.parametrize("r,v", [(10, 10), (20, 18), (100, 80), (100, 60), (500, 300), (1000, 1000)])
def test_pure_dp_bound_is_the_clopper_pearson_limit_turned_into_epsilon(r, v):
    """δ = 0: the largest ε with P[Binomial(r, e^ε/(1+e^ε)) ≥ v] < 0.05 is the logit of the
    one-sided Clopper–Pearson lower limit of the accuracy, a closed form from the Beta quantile."""
    expected = max(0.0, float(logit(beta.ppf(0.05, v, r - v + 1))))
    assert epsilon_lower_bound(m=max(r, 1000), r=r, v=v, delta=0.0) == pytest.approx(expected, abs=1e-4)


def _direct_p_value(m, r, v, eps, delta):
    """The theorem's bound written out term by term, with no shared code: the tail as
    1 − cdf, the δ term's ratios by cdf differences."""
    q = math.exp(eps) / (1 + math.exp(eps))
    tail = 1 - binom.cdf(v - 1, r, q)
    i = np.arange(1, v + 1)
    ratios = (binom.cdf(v - 1, r, q) - binom.cdf(v - i - 1, r, q)) / i
    return min(1.0, tail + 2 * m * delta * (ratios.max() if v else 0.0))


@pytest.mark.parametrize("m,r,v,delta", [(1000, 100, 85, 1e-5), (1000, 50, 50, 1e-4), (200, 40, 36, 1e-3)])
def test_approximate_dp_bound_matches_a_direct_binomial_search(m, r, v, delta):
    step = 2e-3
    grid = np.arange(0, 5, step)
    rejected = [eps for eps in grid if _direct_p_value(m, r, v, eps, delta) < 0.05]
    expected = max(rejected, default=0.0)
    assert epsilon_lower_bound(m=m, r=r, v=v, delta=delta) == pytest.approx(expected, abs=1.5 * step)
    assert p_value(m=m, r=r, v=v, epsilon=1.3, delta=delta) == pytest.approx(_direct_p_value(m, r, v, 1.3, delta))


def test_bound_behaves_as_a_bound():
    assert epsilon_lower_bound(m=1000, r=100, v=50, delta=0) == 0.0  # chance accuracy proves nothing
    assert epsilon_lower_bound(m=1000, r=100, v=0, delta=0) == 0.0
    loose = epsilon_lower_bound(m=1000, r=100, v=90, delta=1e-3)
    tight = epsilon_lower_bound(m=1000, r=100, v=90, delta=0)
    assert 0 < loose < tight  # δ costs
    assert epsilon_lower_bound(m=1000, r=100, v=90, delta=0, confidence=0.99) < tight
    with pytest.raises(ValueError):
        epsilon_lower_bound(m=10, r=20, v=5, delta=0)


def test_bound_is_sound_for_randomized_response():
    """Guesses from an ε-DP randomized response: the 95% lower bound stays at or below ε in at
    least 95% of runs (here: all but a few of 200)."""
    rng = np.random.default_rng(0)
    eps, m = 1.0, 1000
    q = math.exp(eps) / (1 + math.exp(eps))
    bounds = [epsilon_lower_bound(m=m, r=m, v=int(rng.binomial(m, q)), delta=1e-5) for _ in range(200)]
    assert np.mean(np.array(bounds) <= eps) >= 0.95
    assert np.median(bounds) > 0.6  # and it is not vacuous: near ε for m = 1,000 guesses


def test_audit_guesses_take_the_top_and_bottom_scores_with_a_bonferroni_level():
    rng = np.random.default_rng(1)
    included = rng.random(1000) < 0.5
    perfect = audit_guesses(included.astype(float) + rng.random(1000) * 0.1, included, delta=1e-5)
    assert perfect["correct"] == perfect["guesses"] == perfect["k_plus"] + perfect["k_minus"]
    level = 1 - 0.05 / perfect["pairs_tested"]
    assert perfect["epsilon_lower_bound"] == pytest.approx(epsilon_lower_bound(
        m=1000, r=perfect["guesses"], v=perfect["guesses"], delta=1e-5, confidence=level), abs=1e-5)
    assert perfect["epsilon_lower_bound"] > 3
    noise = audit_guesses(rng.random(1000), included, delta=1e-5)
    assert noise["epsilon_lower_bound"] < 0.3
    assert all(0 < k + j <= 1000 for k, j in guess_grid(1000))
    tied = audit_guesses(np.zeros(1000), included, delta=1e-5)  # ties broken at random: no signal
    assert tied["epsilon_lower_bound"] < 0.3
