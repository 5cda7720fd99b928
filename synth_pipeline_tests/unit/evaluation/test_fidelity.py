"""Quality score in the SDMetrics convention: identical tables score 1, broken pairs score lower."""

import numpy as np
import pytest

from synth_pipeline.evaluation.fidelity import column_shape, pair_trend, quality


def test_identical_tables_score_one(sample_frame, schema):
    result = quality(sample_frame, sample_frame, schema)
    assert result["quality_score"] == pytest.approx(1.0)
    assert result["column_shapes"] == pytest.approx(1.0)


def test_independent_columns_keep_shapes_but_lose_pair_trends(sample_frame, schema):
    rng = np.random.default_rng(0)
    shuffled = sample_frame.copy()
    for col in shuffled.columns:
        shuffled[col] = rng.permutation(shuffled[col].to_numpy())
    result = quality(sample_frame, shuffled, schema)
    assert result["column_shapes"] == pytest.approx(1.0)
    assert result["column_pair_trends"] < 0.97
    relationship, sex = schema.column("relationship"), schema.column("sex")
    assert pair_trend(sample_frame, shuffled, relationship, sex) < pair_trend(sample_frame, sample_frame,
                                                                               relationship, sex) - 0.1


def test_shifted_numeric_column_loses_shape(sample_frame, schema):
    shifted = sample_frame.copy()
    shifted["age"] = (shifted["age"] + 20).clip(upper=90)
    assert column_shape(sample_frame, shifted, schema.column("age")) < 0.6
