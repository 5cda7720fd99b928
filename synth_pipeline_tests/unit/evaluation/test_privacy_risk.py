"""DCR and copy detection (synth_pipeline.evaluation.privacy_risk): copies of the training
rows are told apart from fresh rows. The audit reads private data and is not DP."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from synth_pipeline.evaluation.gates import AuditPolicy, evaluate_gates
from synth_pipeline.evaluation.privacy_risk import dcr
from synth_pipeline.schema import parse_schema
from synth_pipeline_tests.helpers import fixed_split, independent_marginals

pytestmark = pytest.mark.usefixtures("one_openmp_thread")


# -- DCR and copies ---------------------------------------------------------------------------


def test_copied_training_rows_fail_the_copy_ceiling(halves, schema):
    train, holdout = halves
    synthetic = train.sample(frac=1.0, random_state=1).reset_index(drop=True)  # a shuffled copy
    risk = dcr(real_train=train, holdout=holdout, synthetic=synthetic, schema=schema)
    assert risk["exact_match_share"] > 0.9
    assert risk["dcr_share"] > 0.5
    assert risk["dcr_share"] > 0.9
    assert risk["median_dcr_train"] == 0.0 < risk["median_dcr_holdout"]
    gates = {g.gate: g for g in evaluate_gates({"dcr": risk}, AuditPolicy())}
    assert not gates["copy_ceiling"].passed
    assert not gates["dcr_ceiling"].passed
    assert "exact_match_share" in gates["copy_ceiling"].message and "failed" in gates["copy_ceiling"].message


def test_unseen_real_rows_score_about_one_half(sample_frame, schema):
    """Rows the 'generator' never saw are as close to train as to holdout: DCR share ≈ 0.5."""
    train, rest = fixed_split(sample_frame, holdout_fraction=2 / 3)
    holdout, unseen = fixed_split(rest, holdout_fraction=0.5)
    risk = dcr(real_train=train, holdout=holdout, synthetic=unseen, schema=schema)
    assert 0.35 < risk["dcr_share"] < 0.65
    assert risk["exact_match_share"] < 0.01
    assert risk["reference_rows"] == min(len(train), len(holdout))
    assert set(risk) >= {"dcr_share", "exact_match_share", "nndr_median", "median_dcr_train", "median_dcr_holdout"}


def test_dcr_is_deterministic_for_a_seed(halves, schema):
    train, holdout = halves
    synthetic = independent_marginals(train)
    assert dcr(real_train=train, holdout=holdout, synthetic=synthetic, schema=schema, seed=3) == \
        dcr(real_train=train, holdout=holdout, synthetic=synthetic, schema=schema, seed=3)


def test_dcr_needs_rows(halves, schema):
    train, holdout = halves
    with pytest.raises(ValueError, match="DCR needs"):
        dcr(real_train=train, holdout=holdout.head(1), synthetic=train, schema=schema)
    with pytest.raises(ValueError, match="DCR needs"):
        dcr(real_train=train, holdout=holdout, synthetic=train.head(0), schema=schema)


def test_dcr_reports_aggregates_only(halves, schema):
    train, holdout = halves
    risk = dcr(real_train=train, holdout=holdout, synthetic=train.head(50), schema=schema)
    numbers = [x for v in risk.values() for x in (v if isinstance(v, list) else [v])]
    assert all(isinstance(x, (int, float)) for x in numbers)
    assert risk["dcr_share_ci"][0] <= risk["dcr_share"] <= risk["dcr_share_ci"][1]


# -- real bugs, documented ------------------------------------------------------------------


def test_copy_share_is_not_diluted_by_a_small_holdout(sample_frame, schema):
    train, holdout = fixed_split(sample_frame, holdout_fraction=0.2)
    risk = dcr(real_train=train, holdout=holdout, synthetic=train.copy(), schema=schema)
    assert risk["exact_match_share"] > 0.9


def test_dcr_with_nullable_numeric_column():
    schema = parse_schema({"dataset": "d", "columns": [
        {"name": "x", "type": "float", "bounds": [0, 1], "nullable": True},
        {"name": "c", "type": "categorical", "categories": ["a", "b"]},
    ]})
    rng = np.random.default_rng(0)

    def frame(with_missing: bool) -> pd.DataFrame:
        x = rng.uniform(size=40)
        if with_missing:
            x[::5] = np.nan
        return pd.DataFrame({"x": x, "c": rng.choice(["a", "b"], size=40)})

    risk = dcr(real_train=frame(True), holdout=frame(True), synthetic=frame(False), schema=schema)
    assert 0 <= risk["dcr_share"] <= 1


def test_dcr_ratio_separates_copies_from_fresh_rows(sample_frame, schema):
    train, holdout = fixed_split(sample_frame, holdout_fraction=0.2)
    copies = dcr(real_train=train, holdout=holdout, synthetic=train.copy(), schema=schema)
    fresh = dcr(real_train=train, holdout=holdout, synthetic=holdout.copy(), schema=schema)
    assert copies["dcr_ratio"] < 0.1
    assert 0.7 < fresh["dcr_ratio"] < 1.3
