"""Unit tests of synth_pipeline.schema_draft: a starting schema drafted from a drop.

The draft carries names, guessed types and suggested roles; never a bound, a category, a
row count or a value of the rows (the canary tests plant values and search the YAML).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import yaml

from synth_pipeline.schema import parse_schema
from synth_pipeline.schema_draft import DraftError, dataset_name, draft_columns, draft_schema, guess_type

CANARY_TEXT = "CANARYQX"
CANARY_NUMBER = 987_654_321
N_ROWS = 37  # a distinctive row count that must not appear in the draft


def _text(values) -> pd.Series:
    return pd.Series(values, dtype="string")


@pytest.mark.parametrize("values, expected", [
    (["14", "12", "16"], "integer"),
    (["14.0", "12.0", ""], "integer"),  # whole-number floats, as a CSV export writes them
    (["14.5", "12", None], "float"),
    (["1e3", "-2.5"], "float"),
    (["3", "NA", "4"], "integer"),  # NA is missing in a number column (as read_drop reads it)
    (["true", "False", "TRUE"], "boolean"),
    (["yes", "no", "Y", "n"], "boolean"),
    (["t", "f"], "boolean"),
    (["0", "1", "1"], "integer"),  # digits stay numbers: declare boolean by hand if it is a flag
    (["02134", "90210"], "categorical"),  # a leading zero: a code, not a number
    (["0.5", "10"], "float"),
    (["red", "green", "red"], "categorical"),
    (["3", "four", "5"], "categorical"),  # mixed: not all numbers
    ([None, None], "categorical"),
])
def test_guess_type_of_text(values, expected):
    assert guess_type(_text(values)) == expected


@pytest.mark.parametrize("series, expected", [
    (pd.Series([1, 2, 3]), "integer"),
    (pd.Series([1.0, np.nan, 3.0]), "integer"),
    (pd.Series([1.5, 2.0]), "float"),
    (pd.Series([True, False]), "boolean"),
])
def test_guess_type_of_typed_columns(series, expected):
    assert guess_type(series) == expected


def _drop(n: int = N_ROWS) -> pd.DataFrame:
    """A small drop as ``read_drop_as_text`` returns it: every cell text."""
    rng = np.random.default_rng(0)
    age = rng.integers(18, 90, n)
    age[3] = CANARY_NUMBER
    colour = np.array(["crimsonq", "azureq", CANARY_TEXT])[rng.integers(0, 3, n)]
    return pd.DataFrame({
        "Patient ID": [f"P{i:05d}" for i in range(n)],
        "contact": [f"user{i}@example.org" for i in range(n)],
        "nickname": [f"{CANARY_TEXT}{i}" for i in range(n)],  # all distinct, no name hint
        "age": age.astype(str),
        "Weight (kg)": [f"{w:.1f}" for w in rng.normal(70, 10, n)],
        "Zip Code": np.array(["02134", "90210", "10001"])[rng.integers(0, 3, n)],  # repeats: not unique
        "Visits": rng.integers(0, 9, n).astype(str),
        "colour": colour,
        "café ünïcode": np.array(["a", "b"])[rng.integers(0, 2, n)],
        "smoker": np.array(["Yes", "no"])[rng.integers(0, 2, n)],
        "outcome": np.array(["0", "1"])[rng.integers(0, 2, n)],
    }).astype("string")


def test_draft_keeps_names_types_and_roles():
    frame = _drop()
    text = draft_schema(frame, source_name="my drop.csv", label="outcome")
    raw = yaml.safe_load(text)
    columns = {c["name"]: c for c in raw["columns"]}
    assert list(columns) == list(frame.columns)  # names kept exactly: spaces, brackets, unicode
    assert raw["dataset"] == "my_drop" and raw["label"] == "outcome"
    assert {n: c["type"] for n, c in columns.items()} == {
        "Patient ID": "string", "contact": "string", "nickname": "string", "age": "integer",
        "Weight (kg)": "float", "Zip Code": "categorical", "Visits": "integer", "colour": "categorical", "café ünïcode": "categorical",
        "smoker": "boolean", "outcome": "categorical"}
    roles = {n: c.get("role") for n, c in columns.items()}
    assert roles["Patient ID"] == "direct_identifier"  # from the name ('id')
    assert roles["contact"] == "direct_identifier"  # from the email pattern
    assert roles["nickname"] == "direct_identifier"  # every value distinct: the PII scan's uniqueness rule
    assert roles["age"] == roles["Zip Code"] == "quasi_identifier"
    assert roles["outcome"] == "label" and roles["colour"] is roles["Visits"] is None
    # never a domain taken from the rows (and no empty cell here, so nothing nullable)
    for col in raw["columns"]:
        assert not {"bounds", "categories", "values", "nullable"} & set(col)


def test_draft_says_what_it_read_and_how_to_declare_domains():
    text = draft_schema(_drop(), source_name="my drop.csv")
    head = text.split("\ndataset:")[0]
    assert head.startswith("# DRAFT schema") and '"my drop.csv"' in head and "(11 columns)" in head
    assert "not DP" in head and "review" in head
    lines = text.splitlines()
    age = lines.index('  - name: "age"')
    assert lines[age + 3].lstrip().startswith("# bounds: [lower, upper]")
    assert "public knowledge" in lines[age + 3] and "DP" in lines[age + 3] and "values: [..]" in lines[age + 3]
    colour = lines.index('  - name: "colour"')
    assert lines[colour + 2].lstrip().startswith("# categories: [..]") and "public knowledge" in lines[colour + 2]
    assert "# max_rows:" in text and "never the drop's own row count" in text


def test_the_draft_carries_no_value_and_no_count_of_the_rows():
    frame = _drop()
    text = draft_schema(frame, source_name="drop.csv", label="colour")
    for secret in (CANARY_TEXT, str(CANARY_NUMBER), "example.org", "P00001", "crimsonq", "azureq"):
        assert secret not in text, secret
    assert not any(str(n) in text for n in (N_ROWS, N_ROWS - 1))  # neither the row count nor a share of it
    for number in frame["Weight (kg)"]:
        assert number not in text
    assert "02134" not in text


def test_a_draft_without_label_is_a_schema_the_pipeline_loads():
    schema = parse_schema(yaml.safe_load(draft_schema(_drop(), source_name="drop.csv")))
    assert schema.direct_identifiers == ["Patient ID", "contact", "nickname"]
    assert schema.label is None


def test_a_drafted_label_loads_with_its_classes_left_to_dp():
    raw = yaml.safe_load(draft_schema(_drop(), source_name="drop.csv", label="outcome"))
    schema = parse_schema(raw)  # the classes stay open: DP counts buy them, or the user declares them
    assert schema.label == "outcome" and schema.column("outcome").categories is None
    next(c for c in raw["columns"] if c["name"] == "outcome")["categories"] = ["0", "1"]
    assert parse_schema(raw).column("outcome").categories == ("0", "1")


def test_a_label_must_be_a_column():
    with pytest.raises(DraftError, match="--label 'income' is not a column"):
        draft_columns(_drop(), label="income")


@pytest.mark.parametrize("names", [["30", "41", "17"], ["a@b.org", "x", "y"], ["555-12-3456", "z", "w"]])
def test_a_header_that_looks_like_a_row_is_refused_without_quoting_it(names):
    frame = pd.DataFrame([["1", "2", "3"]], columns=names).astype("string")
    with pytest.raises(DraftError) as info:
        draft_columns(frame)
    assert "does not look like a header" in str(info.value)
    assert not any(name in str(info.value) for name in names)


def test_names_that_yaml_would_misread_round_trip():
    names = ["true", "123 abc", "a: b", "#tag", 'say "hi"', "tab\there", "Ünïcödé 名前"]
    frame = pd.DataFrame({n: _text(["x", "y"]) for n in names})
    raw = yaml.safe_load(draft_schema(frame, source_name="d.csv"))
    assert [c["name"] for c in raw["columns"]] == names


def test_small_columns_are_not_flagged_by_uniqueness_alone():
    # the PII scan's rule needs 20 sampled values: three distinct words are not an identifier
    frame = pd.DataFrame({"colour": _text(["red", "green", "blue"]), "size": _text(["1", "2", "3"])})
    assert all(not c.roles for c in draft_columns(frame))


def test_name_rules_see_past_spaces_case_and_accents():
    frame = pd.DataFrame({"Âge": _text(["30", "40"]), "E-Mail Address": _text(["x", "y"]),
                          "Código Postal": _text(["a", "b"])})
    roles = {c.name: c.roles for c in draft_columns(frame)}
    assert roles == {"Âge": ("quasi_identifier",), "E-Mail Address": ("direct_identifier",), "Código Postal": ("quasi_identifier",)}


def test_dataset_name_from_the_file_name():
    assert dataset_name("Survey 2024-05.csv") == "survey_2024_05"
    assert dataset_name("Enquête été.parquet") == "enquete_ete"
    assert dataset_name("???.csv") == "dataset"


def test_a_boolean_label_stays_boolean_so_its_classes_are_declared_by_type():
    frame = pd.DataFrame({"treated": ["True", "False"] * 30, "age": list(range(60))})
    schema = parse_schema(yaml.safe_load(draft_schema(frame, source_name="drop.csv", label="treated")))
    assert schema.label == "treated" and schema.column("treated").type == "boolean"
    assert schema.column("treated").value_set == ("false", "true")


def test_a_column_with_empty_cells_is_drafted_nullable_and_the_drop_then_passes_the_check(tmp_path):
    """Without it the raw-data gate refuses the drop, and a benchmark that skipped the gate saw a
    third of a column's rows folded into one category."""
    from synth_pipeline.data_io import read_drop
    from synth_pipeline.expectations import validate_raw

    frame = _drop()
    frame.loc[::4, "colour"] = pd.NA
    frame.loc[::7, "Weight (kg)"] = pd.NA
    raw = yaml.safe_load(draft_schema(frame, source_name="drop.csv", label="outcome"))
    columns = {c["name"]: c for c in raw["columns"]}
    assert columns["colour"].get("nullable") is True and columns["Weight (kg)"].get("nullable") is True
    assert not any(c.get("nullable") for n, c in columns.items() if n not in ("colour", "Weight (kg)"))
    path = tmp_path / "drop.csv"
    frame.to_csv(path, index=False)
    schema = parse_schema(raw)
    report = validate_raw(read_drop(path, schema), schema)
    assert report.success, report.problems()
    raw["columns"][list(columns).index("colour")].pop("nullable")
    strict = parse_schema(raw)
    assert not validate_raw(read_drop(path, strict), strict).success  # the check the drafted line passes
