"""The console script: JSON on stdout, one-line errors and non-zero exits on bad input."""

import json

import pytest

from synth_pipeline.cli import build_parser, main
from synth_pipeline.privacy.ledger import PrivacyLedger
from synth_pipeline_tests.helpers import SCHEMA


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize("command", [[], ["demo"], ["synthesize"], ["validate-config"], ["recommend-config"],
                                     ["ledger"], ["ledger", "show"], ["ledger", "set-budget"],
                                     ["ledger", "history"], ["ledger", "export"]])
def test_every_command_has_help(command, capsys):
    with pytest.raises(SystemExit) as exit_info:
        build_parser().parse_args([*command, "--help"])
    assert exit_info.value.code == 0
    assert "usage: synth-pipeline" in capsys.readouterr().out


@pytest.mark.integration
def test_synthesize_writes_rows_and_charges_the_ledger_once(tmp_path, small_drop, capsys):
    ledger = tmp_path / "ledger.duckdb"
    output = tmp_path / "out" / "synthetic.csv"
    code, out, err = run(capsys, "synthesize", "--input", str(small_drop), "--schema", str(SCHEMA),
                         "--generator", "dp-tvae", "--epsilon", "2", "--rows", "300", "--seed", "7",
                         "--epochs", "1", "--batch-size", "48", "--ledger", str(ledger), "--output", str(output))
    assert code == 0, err
    result = json.loads(out)
    assert result["generator"] == "dp-tvae" and result["rows"] == 300
    assert 1.9 <= result["epsilon"] <= 2.0
    assert output.is_file() and len(output.read_text().splitlines()) == 301
    history = PrivacyLedger(ledger).history("adult")
    assert [e["status"] for e in history] == ["committed"]


@pytest.mark.parametrize("argv_tail, expected", [
    (["--epsilon", "0.0001", "--generator", "dp-tvae"], "epsilon too low"),
    (["--epsilon", "1", "--batch-size", "100000", "--generator", "dp-tvae"], "batch_size"),
    (["--epsilon", "1", "--generator", "magic-gan"], "generator"),
])
def test_synthesize_refuses_bad_settings_before_charging(tmp_path, small_drop, capsys, argv_tail, expected):
    ledger = tmp_path / "ledger.duckdb"
    code, out, err = run(capsys, "synthesize", "--input", str(small_drop), "--schema", str(SCHEMA),
                         "--ledger", str(ledger), "--output", str(tmp_path / "x.csv"), *argv_tail)
    assert code == 2
    assert out == ""
    assert len(err.strip().splitlines()) == 1 and expected in err
    assert PrivacyLedger(ledger).history() == []


def test_synthesize_over_budget_is_refused_with_what_is_left(tmp_path, small_drop, capsys):
    ledger_path = tmp_path / "ledger.duckdb"
    PrivacyLedger(ledger_path).set_budget("adult", epsilon=1.0, delta=1e-5)
    code, _, err = run(capsys, "synthesize", "--input", str(small_drop), "--schema", str(SCHEMA),
                       "--epsilon", "3", "--ledger", str(ledger_path), "--output", str(tmp_path / "x.csv"))
    assert code == 2
    assert "left ε=1" in err and "budget ε=1" in err
    assert PrivacyLedger(ledger_path).history() == []


def test_missing_input_is_a_one_line_error(tmp_path, capsys):
    code, _, err = run(capsys, "synthesize", "--input", str(tmp_path / "nope.csv"), "--schema", str(SCHEMA),
                       "--epsilon", "1", "--ledger", str(tmp_path / "l.duckdb"), "--output", str(tmp_path / "x.csv"))
    assert code == 2 and "nope.csv" in err and len(err.strip().splitlines()) == 1


def test_validate_config_reports_errors_by_field(capsys):
    code, out, _ = run(capsys, "validate-config", "--rows", "1000", "--columns", "5", "--epsilon", "-1",
                       "--epochs", "0")
    result = json.loads(out)
    assert code == 1 and result["is_valid"] is False
    assert any(e.startswith("epsilon") for e in result["errors"])
    assert any(e.startswith("epochs") for e in result["errors"])
    assert set(result) >= {"is_valid", "errors", "warnings", "recommended_config"}


def test_recommend_config_returns_a_valid_config(capsys):
    code, out, _ = run(capsys, "recommend-config", "--rows", "24000", "--columns", "15", "--quality", "privacy")
    result = json.loads(out)
    assert code == 0 and result["is_valid"] is True
    assert result["recommended_config"]["epsilon"] == 1.0
    assert result["recommended_config"]["batch_size"] <= 24000 * 0.1


def test_ledger_commands_set_show_history_export(tmp_path, capsys):
    ledger = str(tmp_path / "ledger.duckdb")
    code, out, _ = run(capsys, "ledger", "set-budget", "claims", "--epsilon", "5", "--delta", "1e-6",
                       "--ledger", ledger, "--json")
    assert code == 0 and json.loads(out)["spend"]["remaining_epsilon"] == 5.0
    PrivacyLedger(ledger).reserve(dataset="claims", run_key="r1", mechanism="dp-sgd",
                                  params={"noise_multiplier": 1.0, "sample_rate": 0.01, "steps": 100},
                                  epsilon=0.5, delta=1e-7)
    code, out, _ = run(capsys, "ledger", "show", "--ledger", ledger)
    assert code == 0 and "claims: budget ε=5" in out and "left ε=4.5" in out
    code, out, _ = run(capsys, "ledger", "show", "--ledger", ledger, "--json")
    shown = json.loads(out)["datasets"]
    assert [d["dataset"] for d in shown] == ["claims"] and shown[0]["events"] == 1
    code, out, _ = run(capsys, "ledger", "history", "claims", "--ledger", ledger, "--json")
    assert [e["status"] for e in json.loads(out)["events"]] == ["reserved"]
    for fmt in ("csv", "json"):
        target = tmp_path / f"export.{fmt}"
        code, out, _ = run(capsys, "ledger", "export", "--format", fmt, "--output", str(target), "--ledger", ledger,
                           "--json")
        assert code == 0 and json.loads(out)["exported"] == 1
        assert "dp-sgd" in target.read_text()


def test_synthesize_without_epochs_takes_the_recommended_schedule(small_drop):
    """The CLI and the dp_config asset resolve a config the same way (pipeline.resolve_config)."""
    from synth_pipeline import pipeline
    from synth_pipeline.data_io import read_drop
    from synth_pipeline.privacy.config import recommend
    from synth_pipeline.profiling import dataset_facts, profile_dataset
    from synth_pipeline.schema import load_schema

    schema = load_schema(SCHEMA)
    profile = profile_dataset(read_drop(small_drop, schema), schema)
    config, validation = pipeline.resolve_config(profile, schema, epsilon=2.0, epochs=None, batch_size=None)
    expected = recommend(dataset_facts(profile))
    assert validation.is_valid
    assert (config.epochs, config.batch_size, config.epsilon) == (expected.epochs, expected.batch_size, 2.0)
    assert config.delta == validation.plan["delta"]
