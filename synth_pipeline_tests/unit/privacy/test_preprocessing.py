"""DP statistics for open columns: planned within the run's ε, charged, and sensible."""

import math

import numpy as np
import pandas as pd
import pytest

from synth_pipeline.privacy.accounting import dp_sgd_epsilon, epsilon_of
from synth_pipeline.privacy.config import SynthesisConfig, plan_training
from synth_pipeline.privacy.ledger import PrivacyLedger
from synth_pipeline.privacy.preprocessing import (
    PreprocessingError, PreprocessingPlan, dp_bounds, dp_categories, plan_preprocessing, release_statistics,
    schema_with_statistics)
from synth_pipeline.schema import ColumnSpec, parse_schema

OPEN = [ColumnSpec("age", "integer"), ColumnSpec("city", "categorical"),
        ColumnSpec("sex", "categorical", categories=("F", "M"))]


def test_no_plan_when_the_schema_declares_everything():
    declared = [ColumnSpec("age", "integer", bounds=(0, 100)), ColumnSpec("sex", "categorical", categories=("F",))]
    assert plan_preprocessing(declared, epsilon=3.0, delta=1e-6) is None


def test_plan_covers_only_open_columns_and_splits_delta():
    plan = plan_preprocessing(OPEN, epsilon=3.0, delta=1e-6)
    assert plan.numeric == ("age",) and plan.categorical == ("city",)
    assert plan.threshold_delta == pytest.approx(1e-7)
    # The Gaussian release alone meets its share of ε at the RDP part of δ.
    import dp_accounting as dpa
    eps = epsilon_of([dpa.GaussianDpEvent(plan.noise_multiplier)], delta=1e-6 - plan.threshold_delta)
    assert 0.29 <= eps <= 0.3


def test_training_plan_composes_preprocessing_and_dp_sgd_within_target():
    config = SynthesisConfig(epsilon=2.0, epochs=5, batch_size=100, delta=1e-6)
    plan = plan_training(config, 5000, columns=OPEN)
    total = dp_sgd_epsilon(noise_multiplier=plan.noise_multiplier, sample_rate=plan.sample_rate, steps=plan.steps,
                           delta=plan.rdp_delta, preprocessing_noise_multiplier=plan.preprocessing_noise_multiplier)
    assert 0.95 * 2.0 <= total <= 2.0
    plain = plan_training(config, 5000)
    assert plan.noise_multiplier > plain.noise_multiplier  # DP-SGD gets less of the budget


def test_ledger_charges_the_composition_and_the_threshold_delta(tmp_path):
    ledger = PrivacyLedger(tmp_path / "l.duckdb")
    ledger.set_budget("d", epsilon=10, delta=1e-5)
    params = {"noise_multiplier": 1.0, "sample_rate": 0.02, "steps": 200,
              "preprocessing_noise_multiplier": 5.0, "extra_delta": 1e-6}
    ledger.reserve(dataset="d", run_key="r", mechanism="dp-sgd", params=params, epsilon=3.0, delta=1e-5)
    spend = ledger.spend("d")
    expected = dp_sgd_epsilon(noise_multiplier=1.0, sample_rate=0.02, steps=200, delta=1e-5 - 1e-6,
                              preprocessing_noise_multiplier=5.0)
    assert spend.tight_epsilon == pytest.approx(expected, rel=1e-9)


def test_dp_bounds_enclose_the_bulk_and_land_on_the_public_grid():
    rng = np.random.default_rng(0)
    values = pd.Series(rng.normal(40, 10, size=20_000).round())
    lower, upper = dp_bounds(values, noise_std=5.0, rng=rng, integer=True)
    assert lower <= values.quantile(0.01) and upper >= values.quantile(0.99)
    assert lower >= -10 and upper <= 200


def test_dp_bounds_never_take_an_empty_cell_of_the_grid_for_a_bound():
    """A year column (1980-1987) on a small table: at a 3σ cut, one of the grid's 95 empty cells
    passed about one draw in eight and became a bound (10^11 was seen); the union-bound cut
    keeps every one of 300 draws on the cell that holds the data."""
    rng = np.random.default_rng(1)
    years = pd.Series(rng.integers(1980, 1988, size=2_000))
    bounds = {dp_bounds(years, noise_std=50.0, rng=rng, integer=True) for _ in range(300)}
    assert bounds == {(1000.0, 2000.0)}


def test_dp_bounds_refuse_too_little_data():
    with pytest.raises(PreprocessingError, match="declare `bounds`"):
        dp_bounds(pd.Series([1.0, 2.0]), noise_std=50.0, rng=np.random.default_rng(0), integer=False)


def test_dp_categories_keep_frequent_values_and_drop_a_singleton():
    values = pd.Series(["Paris"] * 500 + ["Lyon"] * 300 + ["CANARY_TOWN"])
    kept = dp_categories(values, noise_std=5.0, threshold=1 + 5.0 * 5.2, rng=np.random.default_rng(0))
    assert tuple(kept) == ("Lyon", "Paris")  # sorted by name, not by count


def test_release_statistics_fills_open_columns_only():
    frame = pd.DataFrame({"age": np.arange(3000) % 80 + 10, "city": ["A", "B", "C"] * 1000,
                          "sex": ["F", "M", "F"] * 1000})
    plan = plan_preprocessing(OPEN, epsilon=3.0, delta=1e-6)
    columns, released, rows = release_statistics(frame, OPEN, plan)
    assert rows is None  # no count planned
    by_name = {c.name: c for c in columns}
    assert by_name["city"].categories == ("A", "B", "C")
    assert by_name["sex"].categories == ("F", "M")
    assert set(released) == {"age", "city"}
    lo, hi = by_name["age"].bounds
    assert lo <= 10 and hi >= 89 and float(lo).is_integer()
    schema = parse_schema({"dataset": "d", "columns": [{"name": "age", "type": "integer"},
                                                        {"name": "city", "type": "categorical"}]})
    filled = schema_with_statistics(schema, released)
    assert filled.column("city").categories == ("A", "B", "C") and filled.column("age").bounds == (lo, hi)


def test_noise_multiplier_accounts_for_the_joint_sensitivity():
    plan = PreprocessingPlan(numeric=("a", "b"), categorical=("c", "d"), noise_std=8.0, threshold_delta=0.0)
    assert plan.noise_multiplier == pytest.approx(8.0 / math.sqrt(4))


@pytest.mark.parametrize("replace_one", [False, True])
def test_domain_discovery_spends_exactly_its_share_of_rho(replace_one):
    from synth_pipeline.privacy.preprocessing import DOMAIN_RHO_SHARE, plan_domain_discovery

    columns = [ColumnSpec("x", "float"), ColumnSpec("k", "integer"), ColumnSpec("c", "categorical"),
               ColumnSpec("b", "boolean"), ColumnSpec("d", "categorical", categories=("u", "v"))]
    plan = plan_domain_discovery(columns, rho=0.2, delta=1e-6, replace_one=replace_one)
    assert (plan.numeric, plan.categorical) == (("x", "k"), ("c",))
    # Three histograms of one Gaussian release: Δ² = 1 per histogram (2 under replace-one).
    per = (2.0 if replace_one else 1.0) / (2 * plan.noise_std ** 2)
    assert plan.column_rho == pytest.approx(per) and 3 * per == pytest.approx(plan.rho) == pytest.approx(
        DOMAIN_RHO_SHARE * 0.2)
    assert plan.column_cost("d") is None and plan.column_cost("c")["delta"] == plan.threshold_delta
    assert plan_domain_discovery(columns[3:], rho=0.2, delta=1e-6) is None  # every domain declared: nothing bought
