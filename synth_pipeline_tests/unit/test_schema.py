"""Unit tests of synth_pipeline.schema: the public schema parser.

Every parse error must name the field to fix; a declared bound of 0 is a bound.
"""

from __future__ import annotations

import copy

import pytest
import yaml

from synth_pipeline.schema import ColumnSpec, SchemaError, TableSchema, load_schema, parse_schema


def _raw(*columns, **top) -> dict:
    """A minimal valid schema (plus the given columns and top-level keys)."""
    base = [{"name": "income", "type": "categorical", "categories": ["<=50K", ">50K"]}]
    return {"dataset": "toy", "columns": list(columns) + base, **top}


def _error(raw) -> str:
    with pytest.raises(SchemaError) as info:
        parse_schema(raw)
    return str(info.value)


# -- valid schemas --------------------------------------------------------------------------


def test_bundled_schema_loads():
    from synth_pipeline_tests.helpers import SCHEMA

    schema = load_schema(SCHEMA)
    assert isinstance(schema, TableSchema)
    assert schema.dataset == "adult"
    assert schema.label == "income" and schema.positive_label == ">50K"
    assert schema.max_rows == 50000
    assert set(schema.direct_identifiers) == {"customer_id", "full_name", "email", "ssn", "phone", "street_address"}
    # direct identifiers are never modelled
    modelled = {c.name for c in schema.modelled_columns}
    assert modelled.isdisjoint(schema.direct_identifiers)
    assert len(modelled) + len(schema.direct_identifiers) == len(schema.columns)


def test_bundled_schema_keeps_zero_lower_bound(schema):
    assert schema.column("capital_gain").bounds == (0.0, 99999.0)
    assert schema.column("capital_loss").bounds == (0.0, 4356.0)


@pytest.mark.parametrize("ctype, bounds", [("integer", (0, 10)), ("integer", (-10, 0)), ("float", (0.0, 0.5))])
def test_zero_bound_round_trips(ctype, bounds):
    spec = parse_schema(_raw({"name": "x", "type": ctype, "bounds": list(bounds)})).column("x")
    assert spec.bounds == (float(bounds[0]), float(bounds[1]))
    assert spec.bounds is not None


def test_integer_column_needs_whole_number_bounds():
    assert "whole-number" in _error(_raw({"name": "x", "type": "integer", "bounds": [0.5, 10.5]}))


def test_bounds_round_trip_through_yaml(tmp_path):
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump(_raw({"name": "x", "type": "float", "bounds": [0, 10]})), encoding="utf-8")
    assert load_schema(path).column("x").bounds == (0.0, 10.0)


def test_roles_as_string_or_list_and_value_sets():
    raw = _raw(
        {"name": "a", "type": "integer", "bounds": [1, 2], "role": "quasi_identifier"},
        {"name": "b", "type": "boolean", "roles": ["sensitive", "quasi_identifier"], "nullable": True},
        {"name": "c", "type": "string", "role": "direct_identifier"},
    )
    s = parse_schema(raw)
    assert s.column("a").roles == ("quasi_identifier",)
    assert s.column("b").roles == ("sensitive", "quasi_identifier")
    assert s.column("b").value_set == ("false", "true") and s.column("b").nullable
    assert s.column("c").is_direct_identifier and s.column("c").value_set is None
    assert s.direct_identifiers == ["c"]
    assert s.with_role("quasi_identifier") == ["a", "b"]
    assert s.column("income").value_set == ("<=50K", ">50K")


def test_categories_are_kept_as_strings_in_order():
    spec = parse_schema(_raw({"name": "c", "type": "categorical", "categories": [3, 1, 2]})).column("c")
    assert spec.categories == ("3", "1", "2")


def test_unknown_top_level_keys_go_to_extra():
    s = parse_schema(_raw(owner="team-a"))
    assert s.extra == {"owner": "team-a"}


def test_unknown_column_lookup_names_the_column(schema):
    with pytest.raises(KeyError, match="no_such_column"):
        schema.column("no_such_column")


# -- errors name the field -----------------------------------------------------------------


@pytest.mark.parametrize("ctype", ["int", "text", "Integer"])
def test_bad_type_names_column_and_type(ctype):
    msg = _error(_raw({"name": "weird", "type": ctype}))
    assert "'weird'" in msg and "type" in msg and repr(ctype) in msg


@pytest.mark.parametrize("bounds", [[10, 0], [5, 5]])
def test_bounds_lower_not_below_upper(bounds):
    msg = _error(_raw({"name": "age", "type": "integer", "bounds": bounds}))
    assert "'age'" in msg and "bounds" in msg and "lower < upper" in msg


@pytest.mark.parametrize("text", ["[0, .inf]", "[-.inf, 3]", "[0, .nan]", "[.nan, .nan]"])
def test_non_finite_bounds_from_yaml(tmp_path, text):
    path = tmp_path / "s.yaml"
    path.write_text(
        "dataset: toy\ncolumns:\n"
        f"  - {{name: amount, type: float, bounds: {text}}}\n",
        encoding="utf-8",
    )
    with pytest.raises(SchemaError) as info:
        load_schema(path)
    assert "'amount'" in str(info.value) and "finite" in str(info.value)


def test_bounds_need_two_values():
    msg = _error(_raw({"name": "age", "type": "integer", "bounds": [1, 2, 3]}))
    assert "'age'" in msg and "[lower, upper]" in msg


@pytest.mark.parametrize("ctype", ["categorical", "string", "boolean"])
def test_bounds_on_non_numeric(ctype):
    msg = _error(_raw({"name": "sex", "type": ctype, "bounds": [0, 1], "categories": ["a"]}))
    assert "'sex'" in msg and "bounds" in msg


def test_duplicate_columns_are_named():
    msg = _error(_raw({"name": "age", "type": "integer"}, {"name": "age", "type": "float"}))
    assert "twice" in msg and "'age'" in msg


def test_label_not_declared():
    msg = _error(_raw(label="salary"))
    assert "label" in msg and "'salary'" in msg


def test_label_must_be_categorical_and_may_leave_its_classes_to_dp():
    msg = _error(_raw({"name": "y", "type": "integer", "bounds": [0, 1]}, label="y"))
    assert "label 'y'" in msg and "categorical" in msg
    assert parse_schema(_raw({"name": "y", "type": "boolean"}, label="y", positive_label="true")).label == "y"
    assert parse_schema(_raw({"name": "y", "type": "categorical"}, label="y")).column("y").categories is None
    msg = _error(_raw({"name": "y", "type": "categorical"}, label="y", positive_label="yes"))
    assert "positive_label 'yes' needs the categories of 'y' declared" in msg


def test_positive_label_not_a_category():
    msg = _error(_raw(label="income", positive_label="rich"))
    assert "positive_label" in msg and "'rich'" in msg and "'income'" in msg


def test_positive_label_valid():
    s = parse_schema(_raw(label="income", positive_label=">50K"))
    assert s.positive_label == ">50K"


@pytest.mark.parametrize("ctype", ["integer", "float", "string", "boolean"])
def test_categories_on_non_categorical(ctype):
    msg = _error(_raw({"name": "n", "type": ctype, "categories": ["a", "b"]}))
    assert "'n'" in msg and "categories" in msg


@pytest.mark.parametrize("cats", [[], ["a", "a"], ["1", 1]])
def test_categories_empty_or_repeated(cats):
    msg = _error(_raw({"name": "c", "type": "categorical", "categories": cats}))
    assert "'c'" in msg and "categories" in msg


def test_unknown_role_names_column_and_role():
    msg = _error(_raw({"name": "x", "type": "string", "role": "identifier"}))
    assert "'x'" in msg and "'identifier'" in msg


def test_column_without_name_names_its_position():
    msg = _error(_raw({"type": "integer"}))
    assert "columns[0]" in msg


@pytest.mark.parametrize("raw, field", [
    ([], "mapping"),
    ({"columns": [{"name": "a", "type": "string"}]}, "dataset"),
    ({"dataset": "d", "columns": []}, "columns"),
    ({"dataset": "d", "columns": [{"name": "a", "type": "string"}], "max_rows": 0}, "max_rows"),
    ({"dataset": "d", "columns": [{"name": "a", "type": "string"}], "max_rows": "many"}, "max_rows"),
    ({"dataset": "d", "columns": [{"name": "a", "type": "string"}], "row_count_public": "yes"}, "row_count_public"),
])
def test_top_level_errors_name_the_field(raw, field):
    assert field in _error(raw)


def test_load_missing_and_invalid_yaml(tmp_path):
    with pytest.raises(SchemaError, match="does not exist"):
        load_schema(tmp_path / "nope.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("dataset: [unclosed\n", encoding="utf-8")
    with pytest.raises(SchemaError, match="not valid YAML"):
        load_schema(bad)


def test_parse_does_not_mutate_input():
    raw = _raw({"name": "x", "type": "integer", "bounds": [0, 10]}, label="income")
    before = copy.deepcopy(raw)
    parse_schema(raw)
    assert raw == before


def test_column_spec_is_frozen():
    spec = ColumnSpec("x", "integer", bounds=(0.0, 1.0))
    with pytest.raises(Exception):
        spec.bounds = None  # type: ignore[misc]


# -- real bugs, documented ------------------------------------------------------------------


@pytest.mark.parametrize("bounds", [["low", 10], [None, 10]])
def test_non_numeric_bounds_name_the_column(bounds):
    msg = _error(_raw({"name": "age", "type": "integer", "bounds": bounds}))
    assert "'age'" in msg


def test_scalar_bounds_name_the_column():
    msg = _error(_raw({"name": "age", "type": "integer", "bounds": 90}))
    assert "'age'" in msg


def test_scalar_categories_are_rejected():
    msg = _error(_raw({"name": "grade", "type": "categorical", "categories": "abc"}))
    assert "'grade'" in msg


def test_nullable_must_be_a_boolean():
    msg = _error(_raw({"name": "age", "type": "integer", "bounds": [0, 1], "nullable": "false"}))
    assert "'age'" in msg and "nullable" in msg


# -- declared values: numeric code lists ------------------------------------------------------


def test_declared_values_imply_bounds_and_a_discrete_value_set():
    col = parse_schema(_raw({"name": "grade", "type": "float", "values": [2.5, 0.5, 10, 1]})).column("grade")
    assert col.values == (0.5, 1.0, 2.5, 10.0) and col.bounds == (0.5, 10.0)
    assert col.discrete_numbers == col.values and col.cell_labels == ("0.5", "1.0", "2.5", "10.0")
    code = parse_schema(_raw({"name": "code", "type": "integer", "values": [3, 1, 7], "bounds": [0, 9]})).column("code")
    assert code.bounds == (0.0, 9.0) and code.cell_labels == ("1", "3", "7")
    assert code.value_set is None  # the evaluation still treats it as a number


def test_small_integer_ranges_are_discrete_and_wide_ones_are_not():
    assert ColumnSpec("k", "integer", bounds=(1.0, 16.0)).discrete_numbers == tuple(float(v) for v in range(1, 17))
    assert ColumnSpec("k", "integer", bounds=(0.0, 99.0)).discrete_numbers is None
    assert ColumnSpec("x", "float", bounds=(1.0, 6.0)).discrete_numbers is None  # a float range is continuous


@pytest.mark.parametrize("column, expected", [
    ({"name": "c", "type": "categorical", "values": [1, 2]}, "values are only for integer or float columns"),
    ({"name": "c", "type": "integer", "values": [1, "two"]}, "values must be a list of finite numbers"),
    ({"name": "c", "type": "integer", "values": [1, 1]}, "at least two different numbers"),
    ({"name": "c", "type": "integer", "values": [1.5, 2]}, "must be whole numbers"),
    ({"name": "c", "type": "float", "values": [1, 20], "bounds": [0, 10]}, "outside the declared bounds"),
    ({"name": "c", "type": "float", "values": [1, float("nan")]}, "finite numbers"),
])
def test_bad_declared_values_name_what_to_fix(column, expected):
    message = _error(_raw(column))
    assert expected in message and "'c'" in message


@pytest.mark.parametrize("column, expected", [
    ({"name": "", "type": "integer"}, "columns[0]: 'name' is empty"),
    ({"name": None, "type": "integer"}, "columns[0]: 'name' is empty"),
    ({"name": "age", "type": None}, "column 'age': 'type' is empty; declare one of integer"),
    ({"name": "age", "type": "float", "bounds": None}, None),  # an empty bound is an open one
    ({"name": "c", "type": "categorical", "categories": []}, "non-empty list"),
])
def test_an_empty_schema_field_says_which_and_what_to_write(column, expected):
    if expected is None:
        assert parse_schema(_raw(column)).column("age").bounds is None
    else:
        assert expected in _error(_raw(column))
