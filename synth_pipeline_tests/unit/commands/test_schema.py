"""`synth-pipeline schema draft|check`: draft a schema from a drop, check a drop against it.

Exit codes: draft 0 or 2; check 0 (matches), 1 (one line per mismatch), 2 (bad input). No
raw value of the drop in any file or line written (canaries planted in the drops).
"""

from __future__ import annotations

import json

import pandas as pd
import pytest
import yaml

from synth_pipeline.chain.gates import raw_data_expectations
from synth_pipeline.chain.results import Drop
from synth_pipeline.cli import main
from synth_pipeline.data_io import read_drop
from synth_pipeline.schema import load_schema

CANARY = "CANARYZQ"
CANARY_NUMBER = 424242.5


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def _write(path, frame: pd.DataFrame):
    frame.to_csv(path, index=False)
    return path


def _table(n: int = 30) -> pd.DataFrame:
    return pd.DataFrame({
        "member id": [f"M{i:04d}" for i in range(n)],
        "âge": [20 + i % 50 for i in range(n)],
        "educ": [f"{10 + i % 7}.0" for i in range(n)],  # whole numbers written as floats
        "insured": ["Yes" if i % 3 else "no" for i in range(n)],
        "region": ["north" if i % 2 else "south" for i in range(n)],
        "paid": [round(100 + 3.7 * i, 2) for i in range(n)],
    })


def _declared_schema(path, **overrides):
    """The edited draft: domains declared from 'public knowledge' (the test's own)."""
    raw = {"dataset": "members", "max_rows": 1000, "columns": [
        {"name": "member id", "type": "string", "role": "direct_identifier"},
        {"name": "âge", "type": "integer", "bounds": [18, 99]},
        {"name": "educ", "type": "integer", "bounds": [0, 20]},
        {"name": "insured", "type": "boolean"},
        {"name": "region", "type": "categorical", "categories": ["north", "south", "east", "west"]},
        {"name": "paid", "type": "float", "bounds": [0, 10_000]},
    ]}
    raw.update(overrides)
    path.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    return path


# -- draft ----------------------------------------------------------------------------------


def test_draft_writes_a_schema_that_checks_after_its_domains_are_filled_in(tmp_path, capsys):
    drop = _write(tmp_path / "members.csv", _table())
    out_path = tmp_path / "schema.yaml"
    code, out, err = run(capsys, "schema", "draft", "--input", str(drop), "--output", str(out_path),
                         "--dataset", "members")
    assert code == 0, err
    assert json.loads(out)["columns"] == 6
    raw = yaml.safe_load(out_path.read_text(encoding="utf-8"))
    assert raw["dataset"] == "members"
    assert {c["name"]: c["type"] for c in raw["columns"]} == {
        "member id": "string", "âge": "integer", "educ": "integer", "insured": "boolean",
        "region": "categorical", "paid": "float"}
    # as drafted (open domains), the drop already meets it
    code, out, _ = run(capsys, "schema", "check", "--schema", str(out_path), "--input", str(drop))
    assert code == 0 and "matches" in out and "6 columns checked" in out


def test_draft_refuses_to_overwrite_without_force(tmp_path, capsys):
    drop = _write(tmp_path / "members.csv", _table())
    out_path = tmp_path / "schema.yaml"
    out_path.write_text("# mine\n", encoding="utf-8")
    code, _, err = run(capsys, "schema", "draft", "--input", str(drop), "--output", str(out_path))
    assert code == 2 and "--force" in err and len(err.strip().splitlines()) == 1
    assert out_path.read_text(encoding="utf-8") == "# mine\n"
    code, _, _ = run(capsys, "schema", "draft", "--input", str(drop), "--output", str(out_path), "--force")
    assert code == 0 and out_path.read_text(encoding="utf-8").startswith("# DRAFT schema")


@pytest.mark.parametrize("content, expected", [
    (None, "does not exist"),
    ("", "empty file"),
    ("a,b\n", "no rows"),
    ('a,b\n1,"unterminated\n', "not parseable"),
    ("a,a\n1,2\n", "repeats a column name"),
])
def test_draft_bad_input_is_one_line_and_exit_2(tmp_path, capsys, content, expected):
    drop = tmp_path / "bad.csv"
    if content is not None:
        drop.write_text(content, encoding="utf-8")
    code, out, err = run(capsys, "schema", "draft", "--input", str(drop), "--output", str(tmp_path / "s.yaml"))
    assert code == 2 and out == ""
    assert expected in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "s.yaml").exists()


def test_draft_label_must_be_a_column(tmp_path, capsys):
    drop = _write(tmp_path / "members.csv", _table())
    code, _, err = run(capsys, "schema", "draft", "--input", str(drop), "--output", str(tmp_path / "s.yaml"),
                       "--label", "income")
    assert code == 2 and err.startswith("synth-pipeline schema draft: error: --label 'income' is not a column")


def test_draft_file_holds_no_value_of_the_drop(tmp_path, capsys):
    frame = _table()
    frame.loc[4, "region"] = CANARY
    frame.loc[5, "paid"] = CANARY_NUMBER
    drop = _write(tmp_path / "members.csv", frame)
    out_path = tmp_path / "schema.yaml"
    code, out, _ = run(capsys, "schema", "draft", "--input", str(drop), "--output", str(out_path),
                       "--label", "region")
    text = out_path.read_text(encoding="utf-8") + out
    assert code == 0
    for secret in (CANARY, str(CANARY_NUMBER), "M0001", "north", "south", "Yes", "30 rows", "(30"):
        assert secret not in text, secret


# -- check ----------------------------------------------------------------------------------


def test_check_matches_a_drop_written_as_users_write_it(tmp_path, capsys):
    drop = _write(tmp_path / "members.csv", _table())  # educ as 14.0, insured as Yes/no
    schema = _declared_schema(tmp_path / "schema.yaml")
    code, out, _ = run(capsys, "schema", "check", "--schema", str(schema), "--input", str(drop))
    assert code == 0 and out.startswith("members.csv matches")


def _broken_table() -> pd.DataFrame:
    frame = _table().drop(columns=["paid"]).assign(extra=1)
    frame["âge"] = frame["âge"].astype(object)
    frame.loc[[1, 2], "âge"] = CANARY  # text among the numbers
    frame.loc[3, "educ"] = "14.5"  # a fraction in an integer column
    frame.loc[[4, 5, 6], "region"] = CANARY + "_region"  # not a declared category
    frame.loc[7, "insured"] = "maybe"
    frame.loc[8, "region"] = None  # empty, not declared nullable
    return frame


def test_check_explains_each_mismatch_in_one_line_and_exits_1(tmp_path, capsys):
    drop = _write(tmp_path / "members.csv", _broken_table())
    schema = _declared_schema(tmp_path / "schema.yaml")
    code, out, _ = run(capsys, "schema", "check", "--schema", str(schema), "--input", str(drop))
    assert code == 1
    lines = out.splitlines()
    assert lines[0] == f"members.csv does not match {schema}: 7 problem(s)"
    problems = [line.removeprefix("- ") for line in lines[1:]]
    assert len(problems) == 7
    expected = {
        "column 'paid': declared in the schema, missing from the drop",
        "column 'extra': in the drop, not in the schema",
        "column 'âge': mixed types: expected whole numbers (integer), but 2 rows hold text",
        "column 'educ': expected whole numbers (integer); 1 row holds a fraction",
        "column 'insured': expected a boolean (true/false, yes/no, y/n, t/f, 1/0); 1 row holds something else",
        "column 'region': expected one of its 4 declared categories; 3 rows hold another value",
        "column 'region': expected no empty cells (the column is not declared nullable); 1 row is empty",
    }
    for start in expected:
        assert sum(p.startswith(start) for p in problems) == 1, (start, problems)
    for secret in (CANARY, "maybe", "14.5"):
        assert secret not in out


def test_check_and_the_raw_data_gate_never_disagree(tmp_path, capsys):
    drop = _write(tmp_path / "members.csv", _broken_table())
    schema_path = _declared_schema(tmp_path / "schema.yaml")
    code, out, _ = run(capsys, "schema", "check", "--schema", str(schema_path), "--input", str(drop), "--json")
    checked = json.loads(out)
    schema = load_schema(schema_path)
    verdict = raw_data_expectations(Drop(name=drop.name, path=drop, frame=read_drop(drop, schema)), schema)
    assert code == 1 and checked["matches"] is verdict.passed is False
    assert checked["problems"] == verdict.metadata["problems"]
    # the asset check's metadata: names and counts, no value of the drop
    assert CANARY not in json.dumps(verdict.metadata) + verdict.description


@pytest.mark.parametrize("frame_edit, expected", [
    (lambda f: f.assign(region=None), "column 'region': every row is empty (30 rows)"),
    (lambda f: f.assign(region="north"), "column 'region': every row holds the same value (30 rows)"),
])
def test_check_names_empty_and_constant_columns(tmp_path, capsys, frame_edit, expected):
    drop = _write(tmp_path / "members.csv", frame_edit(_table()))
    schema = _declared_schema(tmp_path / "schema.yaml")
    code, out, _ = run(capsys, "schema", "check", "--schema", str(schema), "--input", str(drop))
    assert code == 1 and f"- {expected}" in out and len(out.splitlines()) == 2
    assert "north" not in out


def test_check_a_label_with_one_class(tmp_path, capsys):
    drop = _write(tmp_path / "members.csv", _table().assign(region="south"))
    schema = _declared_schema(tmp_path / "schema.yaml", label="region")
    code, out, _ = run(capsys, "schema", "check", "--schema", str(schema), "--input", str(drop))
    assert code == 1 and "column 'region': the label needs at least two classes" in out and "30 rows" in out
    assert "south" not in out


@pytest.mark.parametrize("argv, expected", [
    (["--schema", "absent.yaml"], "does not exist"),
    (["--input", "absent.csv"], "does not exist"),
])
def test_check_bad_input_is_one_line_and_exit_2(tmp_path, capsys, argv, expected):
    drop = _write(tmp_path / "members.csv", _table())
    schema = _declared_schema(tmp_path / "schema.yaml")
    given = {"--schema": str(schema), "--input": str(drop)}
    given[argv[0]] = str(tmp_path / argv[1])
    code, out, err = run(capsys, "schema", "check", *[x for kv in given.items() for x in kv])
    assert code == 2 and out == "" and expected in err and len(err.strip().splitlines()) == 1


def test_check_a_header_only_drop_is_bad_input(tmp_path, capsys):
    drop = tmp_path / "members.csv"
    drop.write_text(",".join(_table().columns) + "\n", encoding="utf-8")
    schema = _declared_schema(tmp_path / "schema.yaml")
    code, _, err = run(capsys, "schema", "check", "--schema", str(schema), "--input", str(drop))
    assert code == 2 and "no rows" in err
