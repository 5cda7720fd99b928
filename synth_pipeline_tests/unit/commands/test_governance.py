"""`approve`, `reject`, `revoke`, `releases` and `retention` from the command line: one JSON
object on success, a one-line error and exit 2 when refused, nothing changed."""

import json
import os
import time

import pytest

from synth_pipeline.cli import main
from synth_pipeline_tests.helpers.governance import records_at, stage_release_for_test


@pytest.fixture
def staged(tmp_path):
    records = records_at(tmp_path / "ledger.duckdb")
    folder = stage_release_for_test(tmp_path, records)
    policy = tmp_path / "governance.yaml"
    policy.write_text("approval: {required: 1, approvers: [ana]}\nterms: {recipients: [analytics]}\n")
    return tmp_path, folder, ["--ledger", str(tmp_path / "ledger.duckdb")], ["--governance", str(policy)]


def _run(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, (json.loads(out) if out.strip() else None), err


def test_approve_publish_export_and_revoke_from_the_command_line(staged, capsys):
    tmp_path, folder, ledger, governance = staged
    code, out, err = _run(capsys, "approve", "run00001", "--by", "mallory", *ledger, *governance)
    assert code == 2 and out is None and "mallory may not approve" in err and err.count("\n") == 1
    code, out, _ = _run(capsys, "approve", "run00001", "--by", "ana", "--note", "read it", *ledger, *governance)
    assert code == 0 and out["status"] == "published" and (folder / "release" / "TERMS.md").is_file()
    code, out, _ = _run(capsys, "releases", "list", *ledger)
    assert [r["status"] for r in out["releases"]] == ["published"] and out["releases"][0]["approvals"][0]["by"] == "ana"
    code, out, _ = _run(capsys, "releases", "export", "run00001", "--to", tmp_path / "out", "--recipient",
                        "analytics", *ledger)
    assert code == 0 and (tmp_path / "out").is_dir()
    code, out, _ = _run(capsys, "revoke", "run00001", "--by", "ana", "--reason", "drill", *ledger)
    assert code == 0 and out["recipients"] == ["analytics"]
    code, out, _ = _run(capsys, "releases", "show", "run00001", *ledger)
    assert [e["event"] for e in out["events"]] == ["staged", "approved", "published", "exported", "revoked"]


def test_a_missing_governance_file_is_a_usage_error(staged, capsys):
    tmp_path, _, ledger, _ = staged
    code, _, err = _run(capsys, "approve", "run00001", "--by", "ana", *ledger, "--governance", tmp_path / "nope.yaml")
    assert code == 2 and "no governance policy at" in err


def test_retention_dry_run_lists_and_deletes_nothing(staged, capsys):
    tmp_path, folder, ledger, _ = staged
    policy = tmp_path / "keep.yaml"
    policy.write_text("retention_days: {candidates: 0.5}\n")
    day_ago = time.time() - 86400
    for path in (folder / "internal" / "staged_release").iterdir():
        os.utime(path, (day_ago, day_ago))
    code, out, _ = _run(capsys, "retention", "apply", "--dry-run", "--outputs", tmp_path / "outputs",
                        "--incoming", tmp_path / "in", "--state", tmp_path / "state", *ledger, "--governance", policy)
    assert code == 0 and out["would_delete"]["candidates"] == 1 and (folder / "internal" / "staged_release").is_dir()
