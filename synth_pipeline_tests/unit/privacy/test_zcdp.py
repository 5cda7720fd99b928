"""The zCDP mechanisms of synth_pipeline.privacy.zcdp: a ρ budget that refuses to overspend
and records each spend, and the exponential mechanism."""

import numpy as np
import pytest

from synth_pipeline.privacy.zcdp import BudgetExceededError, ZcdpBudget, exponential_epsilon, gaussian_sigma


def test_budget_refuses_to_overspend_and_records_each_spend():
    rng = np.random.default_rng(0)
    budget = ZcdpBudget(0.1)
    budget.gaussian(np.zeros(3), sigma=gaussian_sigma(0.06), rng=rng, what="a")
    budget.exponential(np.array([1.0, 2.0]), epsilon=exponential_epsilon(0.04), sensitivity=1.0, rng=rng, what="b")
    assert budget.spent == pytest.approx(0.1)
    with pytest.raises(BudgetExceededError):
        budget.gaussian(np.zeros(3), sigma=1.0, rng=rng, what="c")
    assert [s["mechanism"] for s in budget.spends] == ["gaussian", "exponential"]


def test_exponential_mechanism_favours_high_scores():
    rng = np.random.default_rng(1)
    budget = ZcdpBudget(1e6)
    picks = [budget.exponential(np.array([0.0, 100.0, 0.0]), epsilon=1.0, sensitivity=1.0, rng=rng, what="t")
             for _ in range(50)]
    assert picks.count(1) == 50
