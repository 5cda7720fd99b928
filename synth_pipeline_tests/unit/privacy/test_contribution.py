"""The privacy unit: contribution bounding on secret coins, a person-level holdout, person
batches for DP-SGD, and every count and score calibrated to k rows per person."""

import math

import numpy as np
import pandas as pd
import pytest

from synth_pipeline.privacy.contribution import (
    ContributionError, PrivacyUnit, bound_contributions, draw_unit_holdout, grouped, privacy_unit_of)
from synth_pipeline.privacy.preprocessing import PreprocessingPlan, joint_sensitivity, plan_preprocessing
from synth_pipeline.privacy.zcdp import ZcdpBudget
from synth_pipeline.schema import SchemaError, parse_schema


def _panel(rows_of: dict[str, int]) -> pd.DataFrame:
    ids = [person for person, n in rows_of.items() for _ in range(n)]
    return pd.DataFrame({"pid": ids, "x": np.arange(len(ids))})


def test_bounding_keeps_at_most_k_rows_of_each_person_and_counts_what_it_dropped():
    frame = _panel({"a": 9, "b": 3, "c": 1, "d": 4})
    bounded = bound_contributions(frame, PrivacyUnit("pid", 3))
    kept = bounded.rows["pid"].value_counts().to_dict()
    assert kept == {"a": 3, "b": 3, "c": 1, "d": 3}
    # every kept row is a row of the drop, unchanged
    assert set(bounded.rows["x"]) <= set(frame["x"])
    counts = {key: bounded.internal[key] for key in ("units", "rows", "rows_kept", "rows_dropped", "units_truncated",
                                                     "units_with_one_row")}
    assert counts == {"units": 4, "rows": 17, "rows_kept": 10, "rows_dropped": 7, "units_truncated": 2,
                      "units_with_one_row": 1}
    # the unit codes number the persons of the kept rows, one code per person
    assert pd.Series(bounded.units).groupby(bounded.rows["pid"].to_numpy()).nunique().eq(1).all()
    assert sorted(set(bounded.units)) == [0, 1, 2, 3]


def test_which_rows_are_kept_is_secret_and_fresh_per_run():
    frame = _panel({"a": 40})
    picks = {tuple(sorted(bound_contributions(frame, PrivacyUnit("pid", 5)).rows["x"])) for _ in range(5)}
    assert len(picks) > 1  # not the first k rows, not a seeded choice
    with pytest.raises(TypeError):
        bound_contributions(frame, PrivacyUnit("pid", 5), seed=0)  # no seed can be passed


def test_the_row_unit_keeps_every_row():
    frame = _panel({"a": 3, "b": 2})
    bounded = bound_contributions(frame, PrivacyUnit())
    assert bounded.rows.equals(frame) and list(bounded.units) == [0, 1, 2, 3, 4]


def test_a_person_column_with_empty_cells_is_refused_by_count_never_by_value():
    frame = pd.DataFrame({"pid": ["secret-id-1", None, "secret-id-1", None], "x": [1, 2, 3, 4]})
    with pytest.raises(ContributionError) as err:
        bound_contributions(frame, PrivacyUnit("pid", 2))
    assert "'pid'" in str(err.value) and "2 row(s)" in str(err.value) and "secret-id" not in str(err.value)


def test_the_holdout_keeps_each_persons_rows_together():
    frame = _panel({f"p{i}": 1 + i % 5 for i in range(300)})
    mask = draw_unit_holdout(frame, PrivacyUnit("pid", 5), holdout_fraction=0.3)
    sides = pd.Series(mask).groupby(frame["pid"].to_numpy()).nunique()
    assert sides.eq(1).all()
    assert 0.15 < mask.mean() < 0.45
    with pytest.raises(ValueError, match="too few persons"):  # many rows, one person: no holdout to draw
        draw_unit_holdout(_panel({"only": 50}), PrivacyUnit("pid", 5), holdout_fraction=0.3)


def test_person_batches_stack_each_persons_rows_with_a_mask():
    import torch

    data = torch.arange(12, dtype=torch.float32).reshape(6, 2)
    stacked, mask = grouped(data, np.array([1, 0, 1, 2, 1, 0]), 3)
    assert stacked.shape == (3, 3, 2) and mask.tolist() == [[1, 1, 0], [1, 1, 1], [1, 0, 0]]
    assert stacked[0, :2].tolist() == [[2, 3], [10, 11]] and stacked[1].tolist() == [[0, 1], [4, 5], [8, 9]]
    assert stacked[0, 2].tolist() == [0, 0]  # padding
    with pytest.raises(ContributionError):
        grouped(data, np.array([0, 0, 0, 0, 1, 1]), 3)  # unbounded input is refused


def test_a_person_moves_each_bounded_count_by_at_most_k():
    """Adding or removing all rows of one person (even one with many rows) moves every cell
    of a histogram of the bounded rows by at most k, and its L2 norm by at most k."""
    rng = np.random.default_rng(3)
    k = 4
    base = pd.DataFrame({"pid": rng.integers(0, 50, 400).astype(str), "v": rng.integers(0, 6, 400)})
    heavy = pd.DataFrame({"pid": ["new"] * 30, "v": [2] * 30})  # 30 rows, all in one cell
    for _ in range(5):
        with_person = bound_contributions(pd.concat([base, heavy], ignore_index=True), PrivacyUnit("pid", k)).rows
        # the others' kept rows are drawn afresh: compare the new person's own part
        own = with_person[with_person["pid"] == "new"]
        assert len(own) == k
        counts = np.bincount(own["v"], minlength=6)
        assert np.abs(counts).max() <= k and np.linalg.norm(counts) <= k


def test_zcdp_mechanisms_charge_for_a_person_of_k_rows():
    k, sigma = 3, 2.0
    budget = ZcdpBudget(10.0, rows_per_unit=k)
    budget.gaussian(np.zeros(4), sigma=sigma, rng=np.random.default_rng(0), what="t")
    assert budget.spent == pytest.approx(k ** 2 / (2 * sigma ** 2))
    assert budget.sigma_for(0.5) == pytest.approx(k * ZcdpBudget(1.0).sigma_for(0.5))
    budget.exponential(np.array([0.0, 1.0]), epsilon=0.4, sensitivity=2.0, rng=np.random.default_rng(0), what="t")
    assert budget.spends[-1]["sensitivity"] == pytest.approx(2.0 * k)


def test_dp_statistics_scale_noise_and_threshold_to_k():
    from synth_pipeline.schema import ColumnSpec

    columns = [ColumnSpec("a", "float"), ColumnSpec("b", "categorical")]
    row = plan_preprocessing(columns, epsilon=1.0, delta=1e-6, count=True)
    person = plan_preprocessing(columns, epsilon=1.0, delta=1e-6, count=True, rows_per_unit=5)
    assert person.noise_std == pytest.approx(5 * row.noise_std)
    assert person.noise_multiplier == pytest.approx(row.noise_multiplier)  # same ε: the accountant sees the same
    assert joint_sensitivity(3, replace_one=False, rows_per_unit=5) == pytest.approx(5 * math.sqrt(3))
    assert person.column_rho == pytest.approx(row.column_rho)
    # a category held by one person of k rows passes the threshold with probability ≤ its δ
    from synth_pipeline.privacy.preprocessing import release_statistics

    plan = PreprocessingPlan(numeric=(), categorical=("b",), noise_std=1e-9, threshold_delta=1e-6, rows_per_unit=5)
    frame = pd.DataFrame({"b": ["common"] * 50 + ["rare"] * 5})
    _, released, _ = release_statistics(frame, [ColumnSpec("b", "categorical")], plan)
    assert released["b"]["categories"] == ["common"]  # 5 rows = one person's worth: never discovered
    # a person can open up to k new values: each must pass with probability ≤ δ/k
    from scipy.stats import norm

    plan = PreprocessingPlan(numeric=(), categorical=("b",), noise_std=3.0, threshold_delta=1e-6, rows_per_unit=5)
    _, released, _ = release_statistics(pd.DataFrame({"b": ["common"] * 500}), [ColumnSpec("b", "categorical")], plan)
    assert released["b"]["threshold"] == pytest.approx(5 + 3.0 * norm.isf(1e-6 / 5))


def _raw(**extra) -> dict:
    return {"dataset": "panel", "max_rows": 1000, "columns": [
        {"name": "pid", "type": "string", "role": "direct_identifier"},
        {"name": "x", "type": "integer", "bounds": [0, 10]}, {"name": "y", "type": "categorical",
                                                              "categories": ["a", "b"]}], **extra}


def test_the_schema_declares_the_unit_and_its_bounds():
    schema = parse_schema(_raw(privacy_unit="pid", max_rows_per_unit=8, max_units=200))
    assert (schema.privacy_unit, schema.max_rows_per_unit, schema.max_units) == ("pid", 8, 200)
    assert schema.public_row_bound(999) == 200
    assert privacy_unit_of(schema) == PrivacyUnit("pid", 8)
    assert privacy_unit_of(schema, 3) == PrivacyUnit("pid", 3)
    assert privacy_unit_of(parse_schema(_raw())).description == "one row"


@pytest.mark.parametrize("extra, words", [
    ({"privacy_unit": "nobody"}, "not a declared column"),
    ({"privacy_unit": "x"}, "role: direct_identifier"),
    ({"privacy_unit": "pid", "row_count_public": True}, "remove row_count_public"),
    ({"privacy_unit": "pid", "max_units": 5000}, "cannot exceed max_rows"),
    ({"max_rows_per_unit": 4}, "declare `privacy_unit"),
    ({"privacy_unit": "pid", "max_rows_per_unit": 0}, "positive whole number"),
    ({"privacy_unit": ""}, "must name one column"),
])
def test_bad_unit_declarations_say_what_to_fix(extra, words):
    with pytest.raises(SchemaError, match=words):
        parse_schema(_raw(**extra))


def test_k_must_be_known_and_within_the_declared_maximum():
    with pytest.raises(ContributionError, match="declare max_rows_per_unit"):
        privacy_unit_of(parse_schema(_raw(privacy_unit="pid")))
    with pytest.raises(ContributionError, match="larger than the schema's max_rows_per_unit"):
        privacy_unit_of(parse_schema(_raw(privacy_unit="pid", max_rows_per_unit=4)), 9)
    with pytest.raises(ContributionError, match="declares no privacy_unit"):
        privacy_unit_of(parse_schema(_raw()), 2)
