"""Unit tests of synth_pipeline.expectations.validate_raw: the raw-data gate.

Each failure names the column; nothing of the rows (values, observed min/max) leaves the report.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from synth_pipeline.expectations import ExpectationOutcome, RawDataReport, validate_raw
from synth_pipeline.schema import parse_schema

CANARY_TEXT = "CANARY_12345"
CANARY_NUMBER = 987654321


@pytest.fixture(scope="module")
def toy_schema():
    return parse_schema({
        "dataset": "toy",
        "columns": [
            {"name": "age", "type": "integer", "bounds": [0, 120]},
            {"name": "score", "type": "float", "bounds": [0, 1]},
            {"name": "income", "type": "float", "bounds": [0, 1_000_000], "nullable": True},
            {"name": "visits", "type": "integer", "bounds": [0, 50], "nullable": True},
            {"name": "colour", "type": "categorical", "categories": ["red", "green", "blue"]},
            {"name": "smoker", "type": "boolean"},
            {"name": "note", "type": "string", "nullable": True},
        ],
    })


@pytest.fixture
def clean():
    return pd.DataFrame({
        "age": [30, 41, 0, 120],
        "score": [0.0, 0.25, 0.5, 1.0],
        "income": [1000.0, np.nan, 0.0, 1_000_000.0],
        "visits": [1.0, np.nan, 0.0, 50.0],
        "colour": pd.Series(["red", "green", "blue", "red"], dtype="string"),
        "smoker": pd.Series(["true", "false", "true", "false"], dtype="string"),
        "note": pd.Series(["a", None, "b", "c"], dtype="string"),
    })


def _failed_columns(report: RawDataReport) -> set[str]:
    return {o.column for o in report.outcomes if not o.success}


def _assert_fails_on(report: RawDataReport, column: str, expectation: str) -> None:
    assert not report.success
    assert report.summary()["passed"] is False
    failed = [o for o in report.outcomes if not o.success]
    assert {o.column for o in failed} == {column}, report.problems()
    assert any(o.expectation == expectation for o in failed), [o.expectation for o in failed]
    assert any(f"column {column!r}" in p for p in report.problems())


def _assert_no_values(report: RawDataReport, *values) -> None:
    text = str(report.summary()) + str(report.problems()) + repr(report)
    for value in values:
        assert str(value) not in text


# -- passing --------------------------------------------------------------------------------


def test_clean_frame_passes(clean, toy_schema):
    report = validate_raw(clean, toy_schema)
    assert report.success, report.problems()
    summary = report.summary()
    assert summary == {"passed": True, "rows": 4, "expectations": summary["expectations"],
                       "failed_expectations": 0, "problems": []}
    assert summary["expectations"] == len(report.outcomes) > 0
    # bounds are checked on numeric columns, sets on discrete ones, not-null on non-nullable ones
    kinds = {(o.column, o.expectation) for o in report.outcomes}
    assert ("age", "expect_column_values_to_be_between") in kinds
    assert ("colour", "expect_column_values_to_be_in_set") in kinds
    assert ("smoker", "expect_column_values_to_be_in_set") in kinds
    assert ("age", "expect_column_values_to_not_be_null") in kinds
    assert ("income", "expect_column_values_to_not_be_null") not in kinds


def test_bundled_sample_passes(sample_frame, schema):
    report = validate_raw(sample_frame, schema)
    assert report.success, report.problems()
    assert report.n_rows == len(sample_frame)


# -- failing, each naming the column ----------------------------------------------------------


@pytest.mark.parametrize("column, value", [("age", 121), ("age", -1), ("score", 1.0001), ("income", -5.0),
                                           ("visits", 51.0)])
def test_out_of_bounds(clean, toy_schema, column, value):
    clean.loc[2, column] = value
    report = validate_raw(clean, toy_schema)
    _assert_fails_on(report, column, "expect_column_values_to_be_between")
    assert any(o.unexpected_count == 1 for o in report.outcomes if not o.success)


def test_category_not_in_set(clean, toy_schema):
    clean.loc[1, "colour"] = "purple"
    _assert_fails_on(validate_raw(clean, toy_schema), "colour", "expect_column_values_to_be_in_set")


def test_boolean_outside_value_set(clean, toy_schema):
    clean.loc[0, "smoker"] = "maybe"
    _assert_fails_on(validate_raw(clean, toy_schema), "smoker", "expect_column_values_to_be_in_set")


@pytest.mark.parametrize("column", ["colour", "smoker"])
def test_null_in_non_nullable_discrete_column(clean, toy_schema, column):
    clean.loc[3, column] = pd.NA
    _assert_fails_on(validate_raw(clean, toy_schema), column, "expect_column_values_to_not_be_null")


def test_null_in_nullable_columns_passes(clean, toy_schema):
    clean.loc[[0, 1, 2], "income"] = np.nan
    clean.loc[0, "note"] = pd.NA
    assert validate_raw(clean, toy_schema).success


@pytest.mark.parametrize("values, expectation, count", [
    (pd.Series(["30", "41", "forty", "120"], dtype="string"), "expect_column_values_to_be_of_one_type", 1),
    (["30", "41", "forty", "fifty"], "expect_column_values_to_be_of_one_type", 2),
    (pd.Series(["thirty", "forty", "fifty", "sixty"], dtype="string"), "expect_column_values_to_be_numbers", 4),
    ([True, False, True, False], "expect_column_values_to_be_numbers", 4),
])
def test_wrong_type_in_integer_column_is_counted_by_rows(clean, toy_schema, values, expectation, count):
    clean["age"] = values
    report = validate_raw(clean, toy_schema)
    _assert_fails_on(report, "age", expectation)
    failed = next(o for o in report.outcomes if not o.success)
    assert failed.unexpected_count == count
    # no bounds expectation on a text column (GX would compare strings)
    assert ("age", "expect_column_values_to_be_between") not in {(o.column, o.expectation) for o in report.outcomes}
    message = report.problems()[0]
    assert message.startswith("column 'age': ") and f"{count} row" in message and "text" in message
    assert ("mixed types" in message) == (expectation.endswith("of_one_type"))
    assert "forty" not in message and "thirty" not in message


def test_whole_number_floats_pass_an_integer_column(clean, toy_schema):
    clean["age"] = [30.0, 41.0, 0.0, 120.0]  # as a CSV writes them: 30.0
    assert validate_raw(clean, toy_schema).success


def test_text_in_float_column(clean, toy_schema):
    clean["score"] = pd.Series(["0.1", "n/a", "0.3", "0.4"], dtype="string")
    _assert_fails_on(validate_raw(clean, toy_schema), "score", "expect_column_values_to_be_of_one_type")


def test_nan_in_non_nullable_numeric(clean, toy_schema):
    clean.loc[1, "score"] = np.nan
    _assert_fails_on(validate_raw(clean, toy_schema), "score", "expect_column_values_to_not_be_null")


@pytest.mark.parametrize("column", ["score", "income"])
@pytest.mark.parametrize("value", [np.inf, -np.inf])
def test_inf_in_numeric(clean, toy_schema, column, value):
    clean.loc[0, column] = value
    report = validate_raw(clean, toy_schema)
    assert not report.success
    assert column in _failed_columns(report)
    assert _failed_columns(report) == {column}


def test_missing_column(clean, toy_schema):
    report = validate_raw(clean.drop(columns=["colour"]), toy_schema)
    assert not report.success
    assert report.missing_columns == ("colour",)
    assert any("missing" in p and "'colour'" in p for p in report.problems())
    assert all(o.column != "colour" for o in report.outcomes)


def test_unknown_column(clean, toy_schema):
    report = validate_raw(clean.assign(shoe_size=42), toy_schema)
    assert not report.success
    assert report.unknown_columns == ("shoe_size",)
    assert any("not in the schema" in p and "'shoe_size'" in p for p in report.problems())


def test_several_problems_all_reported(clean, toy_schema):
    clean.loc[0, "age"] = 500
    clean.loc[1, "colour"] = "purple"
    report = validate_raw(clean.drop(columns=["note"]), toy_schema)
    assert _failed_columns(report) == {"age", "colour"}
    assert report.missing_columns == ("note",)
    assert report.summary()["failed_expectations"] == 2
    assert len(report.problems()) == 3


# -- no raw values in the report --------------------------------------------------------------


def test_report_holds_no_raw_values(clean, toy_schema):
    clean["age"] = clean["age"].astype("int64")
    clean.loc[0, "age"] = CANARY_NUMBER
    clean.loc[1, "colour"] = CANARY_TEXT
    clean.loc[2, "smoker"] = CANARY_TEXT + "_bool"
    clean.loc[3, "score"] = 123.456789
    report = validate_raw(clean, toy_schema)
    assert _failed_columns(report) == {"age", "colour", "smoker", "score"}
    _assert_no_values(report, CANARY_NUMBER, CANARY_TEXT, "123.456789", "123.45")
    # only names and counts are stored
    for outcome in report.outcomes:
        assert set(vars(outcome)) == {"expectation", "column", "success", "unexpected_count"}


def test_report_holds_no_values_for_type_failures(clean, toy_schema):
    clean["age"] = pd.Series(["30", CANARY_TEXT, "0", str(CANARY_NUMBER)], dtype="string")
    report = validate_raw(clean, toy_schema)
    assert not report.success
    _assert_no_values(report, CANARY_NUMBER, CANARY_TEXT)


def test_outcome_describe_is_names_declared_facts_and_counts(toy_schema):
    outcome = ExpectationOutcome("expect_column_values_to_be_between", "age", False, 3)
    assert outcome.describe(toy_schema.column("age")) == (
        "column 'age': expected values within its declared bounds [0, 120]; 3 rows fall outside. Fix those rows, "
        "or widen `bounds` from public knowledge (a code book, a regulation, physical limits), never from the data")
    # an expectation without words of its own keeps its name and count
    assert ExpectationOutcome("expect_table_row_count", None, False).describe() == \
        "table: table row count failed (some rows)"


# -- real bugs, documented ------------------------------------------------------------------


def test_fraction_in_nullable_integer_column_fails(clean, toy_schema):
    clean["visits"] = [1.0, np.nan, 2.5, 50.0]
    assert not validate_raw(clean, toy_schema).success


def test_every_column_constant_fails_the_gate(schema, sample_frame):
    frame = sample_frame.head(50).copy()
    for col in schema.modelled_columns:
        frame[col.name] = frame[col.name].iloc[0]
    report = validate_raw(frame, schema)
    assert not report.success
    constant = {o.column for o in report.outcomes if o.expectation == "expect_column_values_to_vary" and not o.success}
    assert constant == {c.name for c in schema.modelled_columns} - {schema.label}
    assert any("'age'" in p and "same value (50 rows)" in p for p in report.problems())


def test_label_with_one_class_fails_the_gate(schema, sample_frame):
    frame = sample_frame.head(50).copy()
    frame["income"] = "<=50K"
    report = validate_raw(frame, schema)
    assert not report.success
    assert any("'income'" in p and "two classes" in p and "50 rows" in p for p in report.problems())
    assert "<=50K" not in str(report.summary())


def test_a_headerless_drop_never_echoes_its_first_row(tmp_path, schema, sample_frame):
    from synth_pipeline.data_io import read_drop

    frame = sample_frame.head(30).copy()
    frame.loc[0, "ssn"] = "987-65-4320"
    frame.loc[0, "full_name"] = "Quentin Canaryworth"
    path = tmp_path / "no_header.csv"
    frame.to_csv(path, index=False, header=False)
    report = validate_raw(read_drop(path, schema), schema)
    text = str(report.summary())
    assert not report.success
    assert "does not look like a header" in text
    assert "987-65-4320" not in text and "Quentin Canaryworth" not in text


# -- columns with nothing to learn, names as users write them ---------------------------------


def test_an_all_empty_column_is_one_message_not_one_per_check(clean, toy_schema):
    clean["age"] = np.nan  # not nullable, bounded: still one line
    report = validate_raw(clean, toy_schema)
    assert [o.expectation for o in report.outcomes if not o.success] == ["expect_column_values_to_not_all_be_null"]
    assert report.problems() == ["column 'age': every row is empty (4 rows). Fill the column, or remove it from "
                                 "the drop and the schema"]


def test_a_constant_column_fails_unless_its_one_value_is_declared():
    frame = pd.DataFrame({"site": pd.Series(["x"] * 5, dtype="string"), "n": [1, 2, 3, 4, 5]})
    open_site = parse_schema({"dataset": "t", "columns": [{"name": "site", "type": "categorical"},
                                                          {"name": "n", "type": "integer"}]})
    report = validate_raw(frame, open_site)
    assert report.problems() == ["column 'site': every row holds the same value (5 rows): a generator learns "
                                 "nothing from it. Remove the column from the drop and the schema"]
    declared = parse_schema({"dataset": "t", "columns": [{"name": "site", "type": "categorical", "categories": ["x"]},
                                                         {"name": "n", "type": "integer"}]})
    assert validate_raw(frame, declared).success


def test_names_with_spaces_and_unicode_are_quoted_exactly():
    schema = parse_schema({"dataset": "t", "columns": [{"name": "âge du patient", "type": "integer",
                                                        "bounds": [0, 120]},
                                                       {"name": "名前 区分", "type": "categorical",
                                                        "categories": ["a", "b"]}]})
    frame = pd.DataFrame({"âge du patient": [30, 200, 40], "名前 区分": pd.Series(["a", "b", "z"], dtype="string")})
    problems = validate_raw(frame, schema).problems()
    assert problems[0].startswith("column 'âge du patient': expected values within its declared bounds [0, 120]; "
                                  "1 row falls outside")
    assert problems[1].startswith("column '名前 区分': expected one of its 2 declared categories; 1 row holds")


def test_whole_number_floats_and_fractions_through_the_reader(tmp_path):
    from synth_pipeline.data_io import read_drop

    schema = parse_schema({"dataset": "t", "columns": [{"name": "educ", "type": "integer", "bounds": [0, 20]},
                                                       {"name": "g", "type": "categorical"}]})
    path = tmp_path / "drop.csv"
    path.write_text("educ,g\n14.0,a\n12.0,b\n16.0,a\n", encoding="utf-8")
    assert validate_raw(read_drop(path, schema), schema).success
    path.write_text("educ,g\n14.0,a\n14.5,b\n16.0,a\n", encoding="utf-8")
    report = validate_raw(read_drop(path, schema), schema)
    assert report.problems() == ["column 'educ': expected whole numbers (integer); 1 row holds a fraction. "
                                 "Round them in the file, or declare the column `type: float`"]
    assert "14.5" not in str(report.summary())


def test_no_message_quotes_a_canary_whatever_the_failure(clean, toy_schema):
    clean["age"] = pd.Series([str(CANARY_NUMBER), CANARY_TEXT, "3", "4"], dtype="string")  # mixed types
    clean["score"] = [np.inf, 0.5, 0.25, 0.1]
    clean["visits"] = [1.5, np.nan, 2.0, 3.0]  # a fraction
    clean["colour"] = pd.Series([CANARY_TEXT] * 4, dtype="string")  # constant, undeclared
    clean["smoker"] = pd.Series([None] * 4, dtype="string")  # all empty
    report = validate_raw(clean, toy_schema)
    assert _failed_columns(report) == {"age", "score", "visits", "colour", "smoker"}
    _assert_no_values(report, CANARY_NUMBER, CANARY_TEXT, "1.5")


def test_a_numeric_code_list_is_checked_and_the_message_never_quotes_the_odd_value():
    schema = parse_schema({"dataset": "t", "columns": [{"name": "grade", "type": "float", "values": [0.5, 1, 2.5]},
                                                       {"name": "n", "type": "integer"}]})
    frame = pd.DataFrame({"grade": [0.5, 1.0, 2.5, 1.0, 1.75], "n": [1, 2, 3, 4, 5]})
    report = validate_raw(frame, schema)
    (problem,) = report.problems()
    assert problem.startswith("column 'grade': expected one of its 3 declared values; 1 row") and "1.75" not in problem
    assert validate_raw(frame.iloc[:4], schema).success


def test_the_child_process_gives_the_inline_outcomes_and_only_names_and_counts(toy_schema, clean, monkeypatch):
    """The gate's default path: GX in a fresh interpreter fed through a pipe, so that its memory
    leaves with it. Same outcomes as inline, on a clean drop and on one failing three ways."""
    from synth_pipeline.expectations import GX_INLINE_ENV

    bad = clean.copy()
    bad.loc[0, "age"] = CANARY_NUMBER  # over the bound
    bad["colour"] = pd.Series([CANARY_TEXT, "green", "blue", "red"], dtype="string")
    bad.loc[1, "score"] = np.nan  # not nullable
    inline = [validate_raw(frame, toy_schema) for frame in (clean, bad)]
    monkeypatch.delenv(GX_INLINE_ENV, raising=False)
    child = [validate_raw(frame, toy_schema) for frame in (clean, bad)]
    assert [r.outcomes for r in child] == [r.outcomes for r in inline]
    assert child[0].success and not child[1].success
    assert _failed_columns(child[1]) == {"age", "colour", "score"}
    assert not any(CANARY_TEXT in p or str(CANARY_NUMBER) in p for p in child[1].problems())


def test_a_failing_child_raises_without_its_output(toy_schema, clean, monkeypatch):
    """A child that dies says how to see why, and never relays what it printed."""
    import subprocess

    from synth_pipeline.expectations import GX_INLINE_ENV

    monkeypatch.delenv(GX_INLINE_ENV, raising=False)
    monkeypatch.setattr(subprocess, "run", lambda *a, **k: subprocess.CompletedProcess(
        a, 1, stdout=b"", stderr=CANARY_TEXT.encode()))
    with pytest.raises(RuntimeError, match=GX_INLINE_ENV) as err:
        validate_raw(clean, toy_schema)
    assert CANARY_TEXT not in str(err.value)
