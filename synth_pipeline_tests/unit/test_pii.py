"""Unit tests of synth_pipeline.pii: the PII scan of the columns that would be trained on.

Declared direct identifiers never reach training; undeclared ones are flagged; findings hold
column names, kinds and shares, never a value (invariant 5).
"""

from __future__ import annotations

import dataclasses

import pandas as pd
import pytest

from synth_pipeline.pii import pii_problems, scan
from synth_pipeline.schema import ColumnSpec, TableSchema

CANARY = "CANARY_12345"


def _undeclare(schema: TableSchema, name: str, new_name: str | None = None) -> TableSchema:
    """The schema with column ``name`` kept as `type: string` but no longer a direct identifier."""
    columns = tuple(
        ColumnSpec(new_name or c.name, "string") if c.name == name else c for c in schema.columns
    )
    return dataclasses.replace(schema, columns=columns)


def test_declared_identifiers_are_dropped_not_trained(sample_frame, schema):
    result = scan(sample_frame, schema)
    identifiers = {"customer_id", "full_name", "email", "ssn", "phone", "street_address"}
    assert set(result["declared_direct_identifiers"]) == identifiers
    assert set(result["dropped_before_training"]) == identifiers
    assert identifiers.isdisjoint(result["training_columns"])
    assert set(result["training_columns"]) == {c.name for c in schema.modelled_columns}
    assert result["findings"] == [] and result["identifiers_in_training_columns"] == []
    assert pii_problems(result) == []
    assert result["dp"] is False
    assert result["scanned_rows"] == len(sample_frame)


def test_declared_identifier_absent_from_drop_is_not_listed_as_dropped(sample_frame, schema):
    result = scan(sample_frame.drop(columns=["ssn"]), schema)
    assert "ssn" in result["declared_direct_identifiers"]
    assert "ssn" not in result["dropped_before_training"]


def test_quasi_identifiers_from_roles_and_names(sample_frame, schema):
    quasi = scan(sample_frame, schema)["quasi_identifiers"]
    assert {"age", "marital", "race", "sex", "country"} <= set(quasi)  # declared
    assert "occupation" in quasi  # by name
    assert "fnlwgt" not in quasi


def test_undeclared_email_column_is_flagged(sample_frame, schema):
    modified = _undeclare(schema, "email")
    result = scan(sample_frame, modified)
    assert "email" in result["training_columns"]
    assert "email" not in result["dropped_before_training"]
    assert "email" in result["identifiers_in_training_columns"]
    kinds = {f["kind"] for f in result["findings"] if f["column"] == "email"}
    assert {"identifier_name", "email", "high_uniqueness"} <= kinds
    email_share = next(f["share"] for f in result["findings"] if f["kind"] == "email")
    assert email_share >= 0.99
    problems = pii_problems(result)
    assert problems and all("'email'" in p and "direct_identifier" in p for p in problems)


def test_email_values_are_flagged_whatever_the_column_name(sample_frame, schema):
    frame = sample_frame.rename(columns={"email": "contact"})
    modified = _undeclare(schema, "email", new_name="contact")
    result = scan(frame, modified)
    kinds = {f["kind"] for f in result["findings"] if f["column"] == "contact"}
    assert "email" in kinds and "identifier_name" not in kinds
    assert result["identifiers_in_training_columns"] == ["contact"]


@pytest.mark.parametrize("column, kind", [("ssn", "us_ssn"), ("phone", "phone"),
                                          ("street_address", "street_address")])
def test_other_undeclared_identifiers_are_flagged_by_value(sample_frame, schema, column, kind):
    frame = sample_frame.rename(columns={column: "field_a"})
    result = scan(frame, _undeclare(schema, column, new_name="field_a"))
    assert kind in {f["kind"] for f in result["findings"] if f["column"] == "field_a"}


def test_free_text_is_flagged_as_highly_unique(schema):
    n = 60
    frame = pd.DataFrame({"comment": pd.Series([f"visit {i} went fine" for i in range(n)], dtype="string")})
    tiny = TableSchema(dataset="t", columns=(ColumnSpec("comment", "string"),))
    findings = scan(frame, tiny)["findings"]
    assert [f["kind"] for f in findings] == ["high_uniqueness"]
    assert findings[0]["share"] == 1.0


def test_declared_categorical_is_not_flagged_for_uniqueness(sample_frame, schema):
    result = scan(sample_frame, schema)
    assert not [f for f in result["findings"] if f["kind"] == "high_uniqueness"]


def test_sampling_is_seeded_and_bounded(sample_frame, schema):
    modified = _undeclare(schema, "email")
    a = scan(sample_frame, modified, sample_rows=100, seed=3)
    b = scan(sample_frame, modified, sample_rows=100, seed=3)
    assert a == b and a["scanned_rows"] == 100


def test_empty_frame(schema, sample_frame):
    result = scan(sample_frame.head(0), _undeclare(schema, "email"))
    assert result["scanned_rows"] == 0
    assert [f["kind"] for f in result["findings"]] == ["identifier_name"]


def test_findings_never_include_values(sample_frame, schema):
    frame = sample_frame.copy()
    frame["email"] = [f"{CANARY}.{i}@example.org" for i in range(len(frame))]
    frame.loc[0, "occupation"] = CANARY  # an unexpected value in a declared column
    result = scan(frame, _undeclare(schema, "email"))
    assert "email" in result["identifiers_in_training_columns"]
    text = str(result) + "\n".join(pii_problems(result))
    assert CANARY not in text
    assert "example.org" not in text
    for finding in result["findings"]:
        assert set(finding) == {"column", "kind", "share", "detail"}
        assert isinstance(finding["share"], float) and 0 <= finding["share"] <= 1
