"""Release governance through the real asset chain: a release waits for its approver, the
approve_release job publishes it (materializing ``released``), a blocked run cannot be
approved, and the retention sweep deletes by kind but never the ledger or the records."""

import json
import os
import time

import pytest
import yaml

from synth_pipeline_tests.helpers.project import failed_checks, materialized

pytestmark = pytest.mark.integration


def _require_one_approver(project) -> None:
    (project.root / "data").mkdir(exist_ok=True)
    (project.root / "data" / "governance.yaml").write_text(yaml.safe_dump({
        "approval": {"required": 1, "approvers": ["ana"]},
        "terms": {"recipients": ["analytics"], "expiry_days": 30},
        "retention_days": {"candidates": 1, "models": 1, "raw_drops": 1}}))


def _approve(project, run: str, by: str):
    return project.defs().resolve_job_def("approve_release").execute_in_process(
        instance=project.instance, raise_on_error=False,
        run_config={"ops": {"record_approval": {"config": {"run": run, "by": by, "note": "read the review"}}}})


def test_a_release_waits_for_its_approver_and_the_approval_job_publishes_it(project, sample_frame):
    _require_one_approver(project)
    key = project.drop("drop.csv", sample_frame)
    result = project.run(key)
    assert result.success, failed_checks(result)
    assert "released" not in materialized(result)  # gates passed, but nobody approved yet
    run_folder = next((project.root / "outputs").glob("adult/*/*"))
    assert not (run_folder / "release").exists() and (run_folder / "internal" / "staged_release").is_dir()
    observed = [e for e in project.instance.all_logs(result.run_id)
                if e.dagster_event and e.dagster_event.event_type_value == "ASSET_OBSERVATION"]
    assert observed and "awaiting approval" in str(observed[0].dagster_event.event_specific_data.asset_observation)
    assert project.ledger().history("adult")[0]["status"] == "committed"  # ε is spent whatever is decided

    refused = _approve(project, result.run_id[:8], "mallory")
    assert not refused.success and not (run_folder / "release").exists()
    approved = _approve(project, result.run_id[:8], "ana")
    assert approved.success
    published = approved.asset_materializations_for_node("record_approval")
    assert [m.asset_key.to_user_string() for m in published] == ["released"] and published[0].partition == key
    card = json.loads((run_folder / "release" / "model_card.json").read_text(encoding="utf-8"))
    assert [a["by"] for a in card["approval"]["approvals"]] == ["ana"]
    assert card["terms_of_use"]["recipients"] == ["analytics"]
    assert "ana at" in (run_folder / "release" / "TERMS.md").read_text(encoding="utf-8")

    # The watermark: the release (and a tenth of it) is "ours", with its release id; the real drop is not.
    from synth_pipeline.commands.watermark import find_releases
    from synth_pipeline.watermark import check_file

    assert card["watermark"]["watermarked"] and "fnlwgt" in card["watermark"]["columns"]
    releases = find_releases(project.root / "outputs", secret=project.files.instance_secret())
    tenth = project.root / "tenth.csv"
    released = run_folder / "release" / "synthetic.csv"
    import pandas as pd

    pd.read_csv(released).sample(frac=0.1, random_state=1).to_csv(tenth, index=False)
    for path in (released, tenth):
        verdict = check_file(path, releases)
        assert verdict["verdict"] == "ours" and verdict["release"] == run_folder.relative_to(
            project.root / "outputs").as_posix()
    real = project.root / "real.csv"
    sample_frame[list(pd.read_csv(released, nrows=1).columns)].to_csv(real, index=False)
    assert check_file(real, releases)["verdict"] == "not ours"

    # Retention: a month later the drop, the model and the candidates go; the release, the
    # ledger and the records stay (the release has no retention in this policy).
    month = time.time() - 31 * 86400
    for path in [*project.root.joinpath("incoming").rglob("*"), *run_folder.rglob("*")]:
        os.utime(path, (month, month))
    sweep = project.defs().resolve_job_def("retention_sweep").execute_in_process(instance=project.instance)
    assert sweep.success
    assert not (project.incoming / key).exists() and not (run_folder / "model").exists()
    assert not (run_folder / "internal" / "candidate").exists()
    assert (run_folder / "release" / "synthetic.csv").is_file() and (run_folder / "internal" / "report").is_dir()
    assert project.ledger().history("adult")[0]["status"] == "committed"
    kinds = {d["kind"] for d in project.ledger_resource.records().deletions()}
    assert kinds == {"raw_drops", "models", "candidates"}
    assert project.ledger_resource.records().state(result.run_id).status == "published"


def test_a_blocked_run_cannot_be_approved(project, sample_frame):
    _require_one_approver(project)
    key = project.drop("drop.csv", sample_frame)
    result = project.run(key, policy={"min_quality_score": 0.999})
    assert "released" not in materialized(result)
    refused = _approve(project, result.run_id, "ana")
    assert not refused.success
    failure = next(e for e in refused.all_events if e.is_step_failure)
    assert "release gates failed (quality_floor)" in failure.event_specific_data.error.message
