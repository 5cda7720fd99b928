"""The core's progress lines reach a Dagster run's event log (dagster.yaml's managed Python
loggers, which the tests' instance shares): the stage lines and MST's rounds, with no raw value."""

import re

import dagster as dg
import pytest

from synth_pipeline_tests.helpers import MARGINAL_TEST_COLUMNS

pytestmark = pytest.mark.usefixtures("one_openmp_thread")


def test_stage_lines_and_rounds_are_in_the_run_log(project, sample_frame):
    assert "synth_pipeline" in project.instance.managed_python_loggers  # from the repository's dagster.yaml
    project.edit_schema(lambda raw: raw.update(columns=[c for c in raw["columns"]
                                                         if c["name"] in MARGINAL_TEST_COLUMNS]))
    partition = project.drop("small.csv", sample_frame[MARGINAL_TEST_COLUMNS].head(600))
    defs = project.defs()
    job = defs.resolve_implicit_global_asset_job_def()
    result = job.execute_in_process(
        partition_key=partition, instance=project.instance, raise_on_error=False,
        asset_selection=[dg.AssetKey(k) for k in ("raw_dataset", "dataset_profile", "pii_scan", "dp_config",
                                                  "holdout_split", "dp_model")],
        run_config={"ops": {"dp_config": {"config": {"generator": "mst", "epsilon": 1.0}}}})
    assert result.success, [ev.event_specific_data.error.message.splitlines()[0] for ev in result.all_events
                            if ev.is_step_failure]
    logs = [e for e in project.instance.all_logs(result.run_id) if not e.is_dagster_event]
    messages = [e.user_message for e in logs]
    assert any(m.startswith("read small.csv: ") for m in messages)
    assert any(m.startswith("training mst (DP, ε=1 reserved first)") for m in messages)
    rounds = [e for e in logs if e.user_message.startswith("MST round ")]
    assert rounds and rounds[-1].step_key == "dp_model" and "(100%)" in rounds[-1].user_message, messages
    assert any(m.startswith("mst fitted in ") for m in messages), messages
    # Not even the private row count n (600) is in a line.
    assert not any(re.search(r"(?<![\d.])600(?![\d.])", m) for m in messages)
