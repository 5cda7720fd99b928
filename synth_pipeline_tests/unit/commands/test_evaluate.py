"""`synth-pipeline audit`: metrics and gate verdicts as one JSON object; exit 1 when a gate fails."""

import json

import pytest

from synth_pipeline.cli import build_parser, main
from synth_pipeline.evaluation.gates import GATES
from synth_pipeline_tests.helpers import SCHEMA, fixed_split

pytestmark = pytest.mark.usefixtures("one_openmp_thread")


@pytest.fixture
def tables(tmp_path, sample_frame):
    train, holdout = fixed_split(sample_frame.head(400), holdout_fraction=0.5)
    paths = {"train": tmp_path / "train.csv", "holdout": tmp_path / "holdout.parquet",
             "synthetic": tmp_path / "copy.csv"}
    train.to_csv(paths["train"], index=False)
    holdout.to_parquet(paths["holdout"], index=False)
    train.to_csv(paths["synthetic"], index=False)  # a copy of the training rows
    return paths


def _argv(tables, *extra):
    return ["audit", "--train", str(tables["train"]), "--holdout", str(tables["holdout"]),
            "--synthetic", str(tables["synthetic"]), "--schema", str(SCHEMA), *extra]


@pytest.mark.integration
def test_audit_prints_metrics_and_every_verdict_and_exits_1_on_a_failed_gate(tables, capsys):
    code = main(_argv(tables))
    out, err = capsys.readouterr()
    result = json.loads(out)
    assert code == 1 and result["passed"] is False
    assert [g["gate"] for g in result["gates"]] == [spec.gate for spec in GATES]
    assert not next(g for g in result["gates"] if g["gate"] == "copy_ceiling")["passed"]
    assert result["dp"] is False and {"quality", "tstr", "membership", "singling_out"} <= set(result)


@pytest.mark.integration
def test_audit_with_a_policy_file_uses_its_thresholds(tables, tmp_path, capsys):
    lenient = tmp_path / "policy.yaml"
    lenient.write_text("thresholds:\n" + "".join(
        f"  {spec.threshold}: {0.0 if spec.threshold.startswith('min_') else 1.0}\n" for spec in GATES))
    code = main(_argv(tables, "--policy", str(lenient)))
    result = json.loads(capsys.readouterr().out)
    assert code == 0 and result["passed"] is True and result["policy"] == str(lenient)


@pytest.mark.parametrize("extra, expected", [
    (["--policy", "missing.yaml"], "cannot read the release policy"),
    (["--max-rows", "0"], None),
])
def test_audit_bad_input_is_one_line_and_exit_2(tables, capsys, extra, expected):
    if expected is None:
        with pytest.raises(SystemExit) as info:
            main(_argv(tables, *extra))
        assert info.value.code == 2
        return
    code = main(_argv(tables, *extra))
    out, err = capsys.readouterr()
    assert code == 2 and out == "" and expected in err and len(err.strip().splitlines()) == 1


def test_audit_has_help(capsys):
    with pytest.raises(SystemExit) as info:
        build_parser().parse_args(["audit", "--help"])
    assert info.value.code == 0 and "--holdout" in capsys.readouterr().out
