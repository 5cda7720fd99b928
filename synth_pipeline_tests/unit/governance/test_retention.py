"""Retention: each kind deleted after its days, each deletion recorded, the ledger and the
records never touched, a dry run deleting nothing."""

import os
import time

import pytest

from synth_pipeline.governance.policy import RetentionPolicy
from synth_pipeline.governance.retention import Folders, apply_retention
from synth_pipeline.governance.releases import publish_if_approved
from synth_pipeline_tests.helpers.governance import policy


def _age(path, days):
    stamp = time.time() - days * 86400
    for p in [path, *path.rglob("*")] if path.is_dir() else [path]:
        os.utime(p, (stamp, stamp))


@pytest.fixture
def layout(tmp_path, stage, records):
    folders = Folders(outputs=tmp_path / "outputs", incoming=tmp_path / "incoming",
                      references=tmp_path / "state" / "drop_references", dagster_storage=tmp_path / "state" / "storage")
    run = stage()
    publish_if_approved(records, policy(0), run_id="run00001-aaaa")
    (run / "model").mkdir()
    (run / "model" / "model.json").write_text("{}")
    (run / "internal" / "candidate").mkdir(parents=True)
    (run / "internal" / "candidate" / "synthetic.csv").write_text("age\n1\n")
    (run / "internal" / "report").mkdir()
    (run / "internal" / "report" / "release_report.html").write_text("<html/>")
    folders.incoming.mkdir()
    (folders.incoming / "drop.csv").write_text("age\n1\n")
    (folders.dagster_storage / "holdout_split").mkdir(parents=True)
    (folders.dagster_storage / "holdout_split" / "drop.csv").write_bytes(b"pickle")
    _age(tmp_path / "outputs", 40)
    _age(folders.incoming, 40)
    _age(folders.dagster_storage, 40)
    return folders, run


def test_each_kind_goes_after_its_days_and_each_deletion_is_recorded(layout, records, tmp_path):
    folders, run = layout
    keep = RetentionPolicy(days={"raw_drops": 30, "dagster_copies": 30, "candidates": 30, "models": 60,
                                 "released_tables": 30})
    dry = apply_retention(records, keep, folders, dry_run=True)
    assert dry["would_delete"]["released_tables"] == 1 and (run / "release").is_dir()  # a dry run deletes nothing
    assert records.deletions() == []
    result = apply_retention(records, keep, folders)
    assert result["deleted"] == {"raw_drops": 1, "dagster_copies": 1, "candidates": 1, "models": 0,
                                 "internal_review": 0, "released_tables": 1}
    assert not (folders.incoming / "drop.csv").exists() and not (run / "release").exists()
    assert (run / "model" / "model.json").is_file() and (run / "internal" / "report").is_dir()
    assert sorted(d["kind"] for d in records.deletions()) == ["candidates", "dagster_copies", "raw_drops",
                                                              "released_tables"]
    assert records.state("run00001-aaaa").status == "deleted"
    assert (tmp_path / "ledger.duckdb").is_file()  # the ledger and the records are never retention's


def test_kinds_without_a_retention_are_kept(layout, records):
    folders, run = layout
    result = apply_retention(records, RetentionPolicy(), folders)
    assert sum(result["deleted"].values()) == 0 and (run / "release" / "synthetic.csv").is_file()


def test_a_staged_release_past_its_retention_can_no_longer_be_approved(records, stage):
    from synth_pipeline.governance.records import GovernanceError
    from synth_pipeline.governance.releases import approve

    run = stage("run00002-bbbb")
    _age(run, 40)
    folders = Folders(outputs=run.parents[2], incoming=run / "none", references=run / "none",
                      dagster_storage=run / "none")
    apply_retention(records, RetentionPolicy(days={"candidates": 30}), folders)
    assert records.state("run00002-bbbb").status == "deleted"
    with pytest.raises(GovernanceError, match="it is deleted already"):
        approve(records, policy(1), run="run00002", by="ana")
