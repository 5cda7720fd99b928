"""The console script: JSON on stdout, one-line errors and non-zero exits on bad input."""

import json

import pytest

from synth_pipeline.cli import build_parser, main
from synth_pipeline.privacy.ledger import PrivacyLedger
from synth_pipeline_tests.helpers import SCHEMA, schema_file_for_tests


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize("command", [[], ["demo"], ["synthesize"], ["validate-config"], ["recommend-config"],
                                     ["evaluate"], ["audit"], ["privacy-audit"], ["compare"],
                                     ["ledger"], ["ledger", "show"], ["ledger", "set-budget"],
                                     ["ledger", "history"], ["ledger", "export"],
                                     ["schema"], ["schema", "draft"], ["schema", "check"]])
def test_every_command_has_help(command, capsys):
    with pytest.raises(SystemExit) as exit_info:
        build_parser().parse_args([*command, "--help"])
    assert exit_info.value.code == 0
    assert "usage: synth-pipeline" in capsys.readouterr().out


@pytest.mark.parametrize("flags, shown", [((), True), (("-q",), False)])
def test_long_commands_show_progress_on_stderr_unless_quiet(monkeypatch, capsys, flags, shown):
    import logging

    from synth_pipeline import cli

    def synthesize(args):
        logging.getLogger("synth_pipeline.chain").info("training aim (DP, ε=1 reserved first)")
        return 0

    monkeypatch.setattr(cli, "cmd_synthesize", synthesize)
    code, out, err = run(capsys, *flags, "synthesize", "--input", "x.csv", "--schema", "s.yaml", "--epsilon", "1")
    assert code == 0 and out == "" and ("training aim" in err) is shown


def _lenient_policy(tmp_path, **overrides):
    """Every threshold relaxed (a model fitted on this small drop is not meant to be useful),
    except the ones a test sets."""
    from dataclasses import fields

    import yaml

    from synth_pipeline.evaluation.gates import AuditPolicy

    thresholds = {f.name: (0.0 if f.name.startswith("min_") else 1.0) for f in fields(AuditPolicy)}
    path = tmp_path / "policy.yaml"
    path.write_text(yaml.safe_dump({"thresholds": {**thresholds, **overrides}}), encoding="utf-8")
    return path


def _synthesize(capsys, tmp_path, small_drop, *extra, policy=None):
    # max_rows of the 1,200-row slice: the bundled 50,000 planned a thousand DP-SGD steps an epoch.
    return run(capsys, "synthesize", "--input", str(small_drop), "--schema", str(schema_file_for_tests(tmp_path)),
               "--ledger", str(tmp_path / "ledger.duckdb"), "--outputs", str(tmp_path / "outputs"),
               "--state", str(tmp_path / "state"), "--policy", str(policy or _lenient_policy(tmp_path)), *extra)


def _released_files(tmp_path) -> list:
    return sorted((tmp_path / "outputs").rglob("release/*"))


@pytest.mark.integration
def test_synthesize_releases_only_after_every_gate_and_charges_once(tmp_path, small_drop, capsys):
    output = tmp_path / "out" / "synthetic.csv"
    code, out, err = _synthesize(capsys, tmp_path, small_drop, "--generator", "dp-tvae", "--epsilon", "2",
                                 "--rows", "300", "--seed", "7", "--epochs", "1", "--batch-size", "48",
                                 "--output", str(output))
    assert code == 0, err
    result = json.loads(out)
    assert result["released"] is True and result["generator"] == "dp-tvae" and result["rows"] == 300
    assert 1.9 <= result["epsilon"] <= 2.0
    assert result["gates_passed"] == 21  # 4 before training, 16 audit gates, dp_guarantee
    assert output.is_file() and len(output.read_text().splitlines()) == 301
    assert {p.name for p in _released_files(tmp_path)} >= {"synthetic.csv", "model_card.json", "release.json"}
    history = PrivacyLedger(tmp_path / "ledger.duckdb").history("adult")
    assert [e["status"] for e in history] == ["committed"]


@pytest.mark.integration
@pytest.mark.parametrize("generator, gate", [("dp-tvae", "quality_floor"), ("tvae", "dp_guarantee")])
def test_synthesize_blocked_by_a_gate_writes_nothing_public(tmp_path, small_drop, capsys, generator, gate):
    """An audit gate that fails, and a non-private twin: exit 1, the gate named with its value
    and threshold, nothing under release/ and no --output file."""
    policy = _lenient_policy(tmp_path, min_quality_score=0.9999) if gate == "quality_floor" else None
    output = tmp_path / "x.csv"
    code, out, _ = _synthesize(capsys, tmp_path, small_drop, "--generator", generator, "--epsilon", "2",
                               "--epochs", "1", "--batch-size", "48", "--output", str(output), policy=policy)
    result = json.loads(out)
    assert code == 1 and result["released"] is False and result["gate"] == gate
    if gate == "quality_floor":
        assert result["threshold"] == 0.9999 and 0 <= result["value"] < 0.9999
    assert _released_files(tmp_path) == [] and not output.exists()


@pytest.mark.parametrize("argv_tail, gate, expected", [
    (["--epsilon", "0.0001", "--generator", "dp-tvae"], "config_valid", "epsilon too low"),
    (["--epsilon", "1", "--batch-size", "100000", "--generator", "dp-tvae"], "config_valid", "batch_size"),
    (["--epsilon", "1", "--generator", "magic-gan"], "config_valid", "generator"),
])
def test_synthesize_refuses_bad_settings_before_charging(tmp_path, small_drop, capsys, argv_tail, gate, expected):
    code, out, _ = _synthesize(capsys, tmp_path, small_drop, *argv_tail)
    result = json.loads(out)
    assert code == 1 and result["gate"] == gate and expected in result["reason"]
    assert PrivacyLedger(tmp_path / "ledger.duckdb").history() == [] and _released_files(tmp_path) == []


def test_synthesize_over_budget_is_refused_with_what_is_left(tmp_path, small_drop, capsys):
    PrivacyLedger(tmp_path / "ledger.duckdb").set_budget("adult", epsilon=1.0, delta=1e-5)
    code, out, _ = _synthesize(capsys, tmp_path, small_drop, "--epsilon", "3")
    result = json.loads(out)
    assert code == 1 and result["gate"] == "budget_available"
    assert "left ε=1" in result["reason"] and "budget ε=1" in result["reason"]
    assert PrivacyLedger(tmp_path / "ledger.duckdb").history() == []


def test_missing_input_is_a_one_line_error(tmp_path, capsys):
    code, _, err = run(capsys, "synthesize", "--input", str(tmp_path / "nope.csv"), "--schema", str(SCHEMA),
                       "--epsilon", "1", "--ledger", str(tmp_path / "l.duckdb"), "--outputs", str(tmp_path / "o"))
    assert code == 2 and "nope.csv" in err and len(err.strip().splitlines()) == 1


def test_validate_config_is_the_config_gate(capsys, small_drop):
    """The pipeline's validator, with the schema's checks: field errors by name."""
    code, out, _ = run(capsys, "validate-config", "--schema", str(SCHEMA), "--epsilon", "-1", "--epochs", "0")
    result = json.loads(out)
    assert code == 1 and result["is_valid"] is False
    assert any(e.startswith("epsilon") for e in result["errors"])
    assert any(e.startswith("epochs") for e in result["errors"])
    assert set(result) >= {"is_valid", "errors", "warnings", "recommended_config"}
    code, out, _ = run(capsys, "validate-config", "--schema", str(SCHEMA), "--input", str(small_drop),
                       "--epsilon", "1")
    assert code == 0 and json.loads(out)["is_valid"] is True


def test_recommend_config_is_what_the_pipeline_resolves(capsys):
    from synth_pipeline.chain.configuring import resolve_config
    from synth_pipeline.profiling import profile_dataset
    from synth_pipeline.schema import load_schema

    code, out, _ = run(capsys, "recommend-config", "--schema", str(SCHEMA), "--preset", "privacy")
    result = json.loads(out)
    schema = load_schema(SCHEMA)
    expected, _ = resolve_config(profile_dataset(None, schema, n_rows=schema.max_rows), schema, preset="privacy")
    assert code == 0 and result["is_valid"] is True
    assert result["recommended_config"] == expected.as_dict() and result["recommended_config"]["epsilon"] == 1.0
    assert result["recommended_config"]["generator"] == "aim"  # mostly discrete, every domain declared


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
    """The CLI and the dp_config asset resolve a config the same way (chain.configuring.resolve_config)."""
    from synth_pipeline.chain import configuring
    from synth_pipeline.data_io import read_drop
    from synth_pipeline.privacy.recommendation import recommend
    from synth_pipeline.profiling import dataset_facts, profile_dataset
    from synth_pipeline.schema import load_schema

    schema = load_schema(SCHEMA)
    profile = profile_dataset(read_drop(small_drop, schema), schema)
    config, validation = configuring.resolve_config(profile, schema, epsilon=2.0, epochs=None, batch_size=None)
    expected = recommend(dataset_facts(profile))
    assert validation.is_valid
    assert (config.epochs, config.batch_size, config.epsilon) == (expected.epochs, expected.batch_size, 2.0)
    assert config.delta == validation.plan["delta"]
