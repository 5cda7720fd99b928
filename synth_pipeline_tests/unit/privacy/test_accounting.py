"""Unit tests of synth_pipeline.privacy.accounting: pinned ε values, RDP vs PLD, noise calibration."""

from __future__ import annotations

import functools
import logging
import math

import pytest

from synth_pipeline.privacy.accounting import (
    CalibrationError,
    DpSgdPlan,
    calibrate_noise,
    calibrate_rho,
    dp_sgd_epsilon,
    epsilon_of,
    make_accountant,
    zcdp_epsilon,
)

DELTA = 1e-5


def test_pinned_rdp_value():
    """docs/privacy.md, invariant 3: dp-accounting's RDP gives ε = 7.33 for σ=1.5, q=0.04, 2,250 steps, δ=1e-5."""
    eps = dp_sgd_epsilon(noise_multiplier=1.5, sample_rate=0.04, steps=2250, delta=DELTA)
    assert eps == pytest.approx(7.33, abs=0.01)


def test_pinned_pld_value():
    eps = dp_sgd_epsilon(noise_multiplier=1.5, sample_rate=0.04, steps=2250, delta=DELTA, accountant="pld")
    assert eps == pytest.approx(6.77, abs=0.01)


def test_default_accountant_is_rdp():
    kwargs = dict(noise_multiplier=1.5, sample_rate=0.04, steps=2250, delta=DELTA)
    assert dp_sgd_epsilon(**kwargs) == dp_sgd_epsilon(**kwargs, accountant="rdp")


# Realistic DP-SGD settings (ε roughly 1.5 to 10). RDP is an upper bound that PLD tightens; in
# this regime RDP is within 25% of PLD (at very small ε, e.g. σ=1, q=0.01, 100 steps, the gap
# grows to ~70%, so the tolerance is only claimed for this regime).
GRID = [
    (1.5, 0.04, 2250),
    (2.0, 0.05, 200),
    (0.8, 0.02, 500),
    (1.2, 0.1, 50),
    (1.0, 0.02, 1000),
]


@pytest.mark.parametrize("sigma, q, steps", GRID)
def test_rdp_and_pld_agree(sigma, q, steps):
    rdp_eps = dp_sgd_epsilon(noise_multiplier=sigma, sample_rate=q, steps=steps, delta=DELTA)
    pld_eps = dp_sgd_epsilon(noise_multiplier=sigma, sample_rate=q, steps=steps, delta=DELTA, accountant="pld")
    assert 0 < pld_eps <= rdp_eps
    assert rdp_eps / pld_eps < 1.25


def test_epsilon_monotone_in_noise_steps_rate_and_delta():
    base = dict(noise_multiplier=1.0, sample_rate=0.02, steps=300, delta=DELTA)
    eps = dp_sgd_epsilon(**base)
    assert dp_sgd_epsilon(**{**base, "noise_multiplier": 2.0}) < eps
    assert dp_sgd_epsilon(**{**base, "steps": 600}) > eps
    assert dp_sgd_epsilon(**{**base, "sample_rate": 0.04}) > eps
    assert dp_sgd_epsilon(**{**base, "delta": 1e-7}) > eps


def test_epsilon_of_composes_events():
    plan = DpSgdPlan(1.0, 0.02, 300)
    single = epsilon_of([plan.dp_event()], delta=DELTA)
    double = epsilon_of([plan.dp_event(), plan.dp_event()], delta=DELTA)
    assert single == pytest.approx(dp_sgd_epsilon(noise_multiplier=1.0, sample_rate=0.02, steps=300, delta=DELTA))
    # composing two identical runs equals one run of twice the steps, and costs less than 2x
    assert double == pytest.approx(epsilon_of([DpSgdPlan(1.0, 0.02, 600).dp_event()], delta=DELTA))
    assert single < double < 2 * single


def test_make_accountant_unknown():
    with pytest.raises(ValueError, match="moments"):
        make_accountant("moments")


# -- calibration ------------------------------------------------------------------------------


@functools.lru_cache(maxsize=None)
def _calibrated(target: float, q: float = 0.02, steps: int = 300) -> float:
    return calibrate_noise(target_epsilon=target, delta=DELTA, sample_rate=q, steps=steps)


@pytest.mark.parametrize("target", [1.0, 3.0, 10.0])
def test_calibrate_noise_hits_target_from_below(target):
    q, steps = 0.02, 300
    sigma = _calibrated(target, q, steps)
    eps = dp_sgd_epsilon(noise_multiplier=sigma, sample_rate=q, steps=steps, delta=DELTA)
    assert eps <= target  # never over the target
    assert eps >= 0.95 * target  # and not wastefully under it
    # a slightly smaller σ would overshoot: σ is (close to) the smallest that meets the target
    assert dp_sgd_epsilon(noise_multiplier=sigma * 0.97, sample_rate=q, steps=steps, delta=DELTA) > target


def test_calibrated_noise_decreases_with_target():
    sigmas = [_calibrated(t) for t in (1.0, 3.0, 10.0)]
    assert sigmas[0] > sigmas[1] > sigmas[2] > 0


def test_impossible_target_raises():
    with pytest.raises(CalibrationError) as info:
        calibrate_noise(target_epsilon=0.01, delta=DELTA, sample_rate=0.5, steps=10_000)
    msg = str(info.value)
    assert "0.01" in msg and "10000" in msg and "noise multiplier above" in msg


@pytest.mark.parametrize("kwargs, field", [
    (dict(target_epsilon=0), "target_epsilon"),
    (dict(target_epsilon=-1), "target_epsilon"),
    (dict(target_epsilon=float("nan")), "target_epsilon"),
    (dict(target_epsilon=float("inf")), "target_epsilon"),
    (dict(delta=0), "delta"),
    (dict(sample_rate=0), "sample_rate"),
    (dict(sample_rate=1.5), "sample_rate"),
    (dict(steps=0), "steps"),
])
def test_invalid_calibration_inputs(kwargs, field):
    args = dict(target_epsilon=3.0, delta=DELTA, sample_rate=0.02, steps=300) | kwargs
    with pytest.raises(CalibrationError, match=field):
        calibrate_noise(**args)


# -- one neighbour relation, stated and honoured ---------------------------------------------
def test_the_same_plan_gives_dp_accountings_epsilon_under_each_relation():
    """σ=1.5, q=0.04, 2,250 steps, δ=1e-5: add/remove through RDP (the pinned 7.33) and
    replace-one through dp-accounting's PLD with REPLACE_ONE (13.49: two different rows,
    each clipped to C, about twice the add/remove figure)."""
    import dp_accounting as dpa
    from dp_accounting import pld

    event = dpa.SelfComposedDpEvent(dpa.PoissonSampledDpEvent(0.04, dpa.GaussianDpEvent(1.5)), 2250)
    expected = pld.PLDAccountant(neighboring_relation=dpa.NeighboringRelation.REPLACE_ONE)
    expected.compose(event)
    common = dict(noise_multiplier=1.5, sample_rate=0.04, steps=2250, delta=1e-5)
    assert dp_sgd_epsilon(**common) == pytest.approx(7.33, abs=0.01)
    assert dp_sgd_epsilon(**common, relation="replace-one") == pytest.approx(expected.get_epsilon(1e-5))
    assert dp_sgd_epsilon(**common, relation="replace-one") == pytest.approx(13.49, abs=0.01)
    with pytest.raises(ValueError, match="relation"):
        dp_sgd_epsilon(**common, relation="swap")


def test_replace_one_calibration_meets_its_own_target_with_more_noise():
    from synth_pipeline.privacy.config import SynthesisConfig, plan_training

    config = SynthesisConfig(generator="dp-tvae", epsilon=3.0, delta=1e-5, epochs=4, batch_size=500,
                             synthetic_rows=100)
    add_remove = plan_training(config, 20_000, relation="add-remove")
    replace_one = plan_training(config, 20_000, relation="replace-one")
    assert replace_one.relation == "replace-one" and replace_one.noise_multiplier > add_remove.noise_multiplier
    achieved = dp_sgd_epsilon(noise_multiplier=replace_one.noise_multiplier, sample_rate=replace_one.sample_rate,
                              steps=replace_one.steps, delta=1e-5, relation="replace-one")
    assert 0.99 * 3.0 <= achieved <= 3.0


def test_rho_calibration_meets_the_target_and_converts_like_the_ledger():
    rho = calibrate_rho(target_epsilon=1.0, delta=1e-6)
    assert zcdp_epsilon(rho=rho, delta=1e-6) <= 1.0
    assert zcdp_epsilon(rho=rho * 1.01, delta=1e-6) > 1.0
    # Tighter than the classic conversion ε = ρ + 2√(ρ log 1/δ), never looser.
    assert rho + 2 * math.sqrt(rho * math.log(1e6)) >= 1.0


def test_the_accountants_dropped_orders_stay_out_of_the_log(caplog):
    """At small σ the RDP accountant leaves out orders whose series does not converge, and warned
    for each: four lines before every CLI run's training. ε is still computed."""
    absl = logging.getLogger("absl")
    level, filters = absl.level, list(absl.filters)
    kwargs = dict(noise_multiplier=0.5, sample_rate=0.03125, steps=59, delta=1e-5)

    def converge_warnings() -> int:
        dp_sgd_epsilon.cache_clear()
        caplog.clear()
        with caplog.at_level(logging.WARNING):
            assert math.isfinite(dp_sgd_epsilon(**kwargs))
        return sum("converge" in r.getMessage() for r in caplog.records)

    absl.setLevel(logging.WARNING)  # as the CLI sets it
    try:
        assert converge_warnings() == 0
        for f in filters:
            absl.removeFilter(f)
        assert converge_warnings() > 0  # the accountant does warn here: the filter is what stops it
    finally:
        for f in filters:
            absl.addFilter(f)
        absl.setLevel(level)
    other = logging.LogRecord("absl", logging.WARNING, __file__, 1, "another warning", None, None)
    assert absl.filter(other)  # absl's other warnings still pass
