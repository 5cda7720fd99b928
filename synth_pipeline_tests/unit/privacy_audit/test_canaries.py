"""Canaries of the one-run audit (synth_pipeline.privacy_audit.canaries): the schema accepts
them, they are seeded, public and far from the data. No model is fitted here."""

import pandas as pd
import pytest

from synth_pipeline.privacy_audit import CanaryError, canary_count, make_canaries
from synth_pipeline.expectations import validate_raw
from synth_pipeline.schema import parse_schema


# -- canaries ---------------------------------------------------------------------------------
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_canaries_always_validate_against_the_schema(schema, seed):
    canaries = make_canaries(schema, 300, seed=seed)
    report = validate_raw(canaries, schema)
    assert report.success, report.problems()
    assert list(canaries.columns) == schema.names


def test_canaries_of_every_column_kind_validate():
    schema = parse_schema({"dataset": "kinds", "columns": [
        {"name": "id", "type": "string", "role": "direct_identifier"},
        {"name": "x", "type": "float", "bounds": [-1.5, 0]},
        {"name": "k", "type": "integer", "bounds": [0, 3], "nullable": True},
        {"name": "flag", "type": "boolean"},
        {"name": "open", "type": "categorical"},
        {"name": "gap", "type": "float", "nullable": True},
        {"name": "c", "type": "categorical", "categories": ["a", "b"], "nullable": True}]})
    canaries = make_canaries(schema, 200, seed=3)
    # The open nullable float gets no value (nothing public to draw from): canaries alone
    # leave it empty, which the gate reports for a whole drop; every row is accepted.
    failed = [(o.column, o.expectation) for o in validate_raw(canaries, schema).outcomes if not o.success]
    assert failed == [("gap", "expect_column_values_to_not_all_be_null")]
    assert canaries["x"].between(-1.5, 0).all() and set(canaries["flag"]) <= {"true", "false"}


def test_canaries_are_seeded_public_and_far_from_the_data(schema, sample_frame):
    first, again, other = (make_canaries(schema, 200, seed=s) for s in (5, 5, 6))
    pd.testing.assert_frame_equal(first, again)
    assert not first.equals(other)
    names = [c.name for c in schema.modelled_columns]
    real = set(map(tuple, sample_frame[names].astype(str).to_numpy()))
    assert not real & set(map(tuple, first[names].astype(str).to_numpy()))
    # rare combinations: the real table's most common country holds most rows, few canaries
    top_country = sample_frame["country"].value_counts(normalize=True)
    assert top_country.iloc[0] > 0.8 and (first["country"] == top_country.index[0]).mean() < 0.1


def test_canary_count_rule_and_open_numeric_columns(schema):
    assert canary_count(24_130) == 1000
    assert canary_count(1_000) == 200 and canary_count(1_000, requested=50) == 50
    with pytest.raises(CanaryError, match="too small"):
        canary_count(50)
    with pytest.raises(CanaryError, match="at least 20"):
        canary_count(10_000, requested=5)
    open_numeric = parse_schema({"dataset": "d", "columns": [{"name": "x", "type": "float"}]})
    with pytest.raises(CanaryError, match="declare `bounds"):
        make_canaries(open_numeric, 30, seed=0)
