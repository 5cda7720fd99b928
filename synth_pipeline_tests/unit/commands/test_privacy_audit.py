"""`synth-pipeline privacy-audit`: one JSON object on stdout, exit 2 on a bad generator."""

import json

import pytest

from synth_pipeline_tests.helpers import SCHEMA

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("one_torch_thread")]


def test_cli_prints_one_json_object(small_drop, capsys):
    from synth_pipeline.cli import main

    code = main(["privacy-audit", "--input", str(small_drop), "--schema", str(SCHEMA), "--generator", "dp-tvae",
                 "--epsilon", "2", "--canaries", "40", "--epochs", "1", "--batch-size", "48"])
    out, err = capsys.readouterr()
    assert code == 0, err
    result = json.loads(out)
    assert result["claimed_epsilon"] == 2.0 and result["confidence"] == 0.95 and result["canaries"] == 40
    assert {"empirical_epsilon_lower_bound", "guesses", "correct", "gate_passed"} <= set(result)
    assert main(["privacy-audit", "--input", str(small_drop), "--schema", str(SCHEMA), "--generator", "aim-x",
                 "--epsilon", "1"]) == 2
