"""Intervals of the attacks: Wilson rates, the residual risk of Giomi et al., AUC with Hanley–McNeil."""

import numpy as np
import pytest

from synth_pipeline.evaluation.stats import auc_with_ci, residual_risk, wilson


def test_wilson_matches_the_closed_form():
    rate, error = wilson(30, 100)
    z = 1.959963984540054
    centre = (30 + z * z / 2) / (100 + z * z)
    half = z / (100 + z * z) * np.sqrt(30 * 70 / 100 + z * z / 4)
    assert rate == pytest.approx(centre) and error == pytest.approx(half)
    assert 0 < wilson(0, 10)[0] < 0.2 and 0.8 < wilson(10, 10)[0] < 1  # never stuck at 0 or 1
    with pytest.raises(ValueError, match="at least one trial"):
        wilson(0, 0)


def test_residual_risk_is_attack_over_control_normalised_and_bounded():
    none = residual_risk(attack_successes=50, attack_trials=500, control_successes=50, control_trials=500)
    assert none["risk"] == 0.0 and none["ci"][0] == 0.0 and none["ci"][1] > 0
    full = residual_risk(attack_successes=500, attack_trials=500, control_successes=0, control_trials=500)
    assert full["risk"] > 0.98 and full["ci"][1] == 1.0
    half = residual_risk(attack_successes=600, attack_trials=1000, control_successes=200, control_trials=1000)
    assert half["risk"] == pytest.approx((half["attack_rate"] - half["control_rate"]) / (1 - half["control_rate"]))
    assert half["ci"][0] < half["risk"] < half["ci"][1]
    worse = residual_risk(attack_successes=10, attack_trials=500, control_successes=100, control_trials=500)
    assert worse["risk"] == 0.0  # control beats the attack: no risk, never negative


def test_auc_interval_shrinks_with_more_examples_and_needs_both_classes():
    rng = np.random.default_rng(0)

    def interval(n):
        labels = np.r_[np.ones(n, bool), np.zeros(n, bool)]
        scores = np.r_[rng.normal(0.5, 1, n), rng.normal(0, 1, n)]
        result = auc_with_ci(labels, scores)
        assert result["ci"][0] <= result["auc"] <= result["ci"][1]
        return result["ci"][1] - result["ci"][0]

    assert interval(2000) < interval(100) / 3
    assert auc_with_ci(np.array([True, False]), np.array([1.0, 0.0]))["auc"] == 1.0
    with pytest.raises(ValueError, match="positive and one negative"):
        auc_with_ci(np.array([True, True]), np.array([0.1, 0.2]))
