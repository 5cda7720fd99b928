"""Approval before release, terms that travel with it, export to named recipients, revocation."""

import json
import threading

import pandas as pd
import pytest

from synth_pipeline.evaluation.release import INTERNAL_DIR, RELEASE_DIR, STAGED_DIR
from synth_pipeline.governance.records import GovernanceError
from synth_pipeline.governance.releases import (approve, export, publish_if_approved, record_blocked, reject,
                                                revoke)
from synth_pipeline_tests.helpers.governance import policy


def _events(records, run_id):
    return [e["event"] for e in records.state(run_id).events]


def test_with_no_approval_required_the_release_is_published_at_once_with_its_terms(records, stage):
    folder = stage()
    published = publish_if_approved(records, policy(0), run_id="run00001-aaaa")
    release = folder / RELEASE_DIR
    assert published["folder"] == str(release)
    assert pd.read_csv(release / "synthetic.csv")["age"].tolist() == [30, 41, 52]
    assert not (folder / INTERNAL_DIR / STAGED_DIR).exists()  # the staged copy is gone once published
    terms = (release / "TERMS.md").read_text(encoding="utf-8")
    assert "re-identifying" in terms and "analytics" in terms and published["expires_at"][:10] in terms
    assert "requires no approval" in terms
    card = json.loads((release / "model_card.json").read_text(encoding="utf-8"))
    assert card["terms_of_use"]["expires_at"] == published["expires_at"]
    assert card["approval"] == {"required": 0, "approvals": [], "note": card["approval"]["note"]}
    report = json.loads((release / "privacy_report.json").read_text(encoding="utf-8"))
    assert report["retention_days"]["released_tables"] is None  # the retention in force, stated
    manifest = json.loads((release / "release.json").read_text(encoding="utf-8"))
    assert manifest["read_first"] == "TERMS.md" and manifest["run_id"] == "run00001-aaaa"
    assert set(manifest["files"]) == {p.name for p in release.iterdir()}
    assert _events(records, "run00001-aaaa") == ["staged", "published"]


def test_two_approvers_are_needed_when_the_policy_says_two(records, stage):
    folder = stage()
    two = policy(2)
    outcome = approve(records, two, run="run00001", by="ana", note="checked the report")
    assert outcome["status"] == "awaiting approval" and outcome["published"] is None
    assert not (folder / RELEASE_DIR).exists()
    with pytest.raises(GovernanceError, match="ana approved run run00001-aaaa already"):
        approve(records, two, run="run00001", by="ana")
    with pytest.raises(GovernanceError, match="mallory may not approve.*ana, ben"):
        approve(records, two, run="run00001", by="mallory")
    assert len(records.state("run00001-aaaa").approvals) == 1  # refused approvals recorded nothing
    outcome = approve(records, two, run="run00001-aaaa", by="ben")
    assert outcome["status"] == "published" and (folder / RELEASE_DIR / "synthetic.csv").is_file()
    card = json.loads((folder / RELEASE_DIR / "model_card.json").read_text(encoding="utf-8"))
    assert [a["by"] for a in card["approval"]["approvals"]] == ["ana", "ben"]
    assert "- ana at" in (folder / RELEASE_DIR / "TERMS.md").read_text(encoding="utf-8")
    first = records.state("run00001-aaaa").approvals[0]["detail"]
    assert "@" in first["account"]  # the names are not authenticated: the OS account that typed them is kept
    seen = first["seen"]  # what the approver was shown
    assert seen["epsilon"] == 1.0 and seen["gates"] == [{"gate": "copy_ceiling", "passed": True}]
    with pytest.raises(GovernanceError, match="published already"):
        approve(records, two, run="run00001", by="ben")


def test_approving_a_run_whose_gates_failed_is_refused_by_name(records):
    record_blocked(records, run_id="run00002-bbbb", release_id="adult/d.csv/run00002", dataset="adult",
                   partition_key="d.csv",
                   failed_gates=["copy_ceiling"])
    with pytest.raises(GovernanceError, match="release gates failed \\(copy_ceiling\\)"):
        approve(records, policy(1), run="run00002", by="ana")
    assert _events(records, "run00002-bbbb") == ["blocked"]


def test_a_rejected_release_is_never_published(records, stage):
    folder = stage()
    with pytest.raises(GovernanceError, match="say why"):
        reject(records, policy(1), run="run00001", by="ana", note=" ")
    reject(records, policy(1), run="run00001", by="ana", note="quality too low for the vendor")
    assert not (folder / INTERNAL_DIR / STAGED_DIR).exists()
    with pytest.raises(GovernanceError, match="ana rejected it"):
        approve(records, policy(1), run="run00001", by="ben")
    assert not (folder / RELEASE_DIR).exists()


def test_unknown_and_ambiguous_runs_are_refused(records, stage):
    stage("run00001-aaaa")
    stage("run00001-abcd", partition="other.csv")
    with pytest.raises(GovernanceError, match="matches 2 runs"):
        approve(records, policy(1), run="run00001-a", by="ana")
    with pytest.raises(GovernanceError, match="no release is recorded"):
        approve(records, policy(1), run="zzzzzzzz", by="ana")
    with pytest.raises(GovernanceError, match="at least its first 8"):
        approve(records, policy(1), run="run", by="ana")


def test_concurrent_approvals_publish_once(records, stage):
    """Two approvers at the same moment: both recorded, one publication."""
    stage()
    barrier, errors = threading.Barrier(2), []

    def act(name):
        barrier.wait()
        try:
            approve(records, policy(2), run="run00001", by=name)
        except Exception as exc:  # noqa: BLE001 (collected for the assertion)
            errors.append(exc)
    threads = [threading.Thread(target=act, args=(n,)) for n in ("ana", "ben")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert _events(records, "run00001-aaaa").count("published") == 1


def test_export_goes_to_named_recipients_only_and_never_after_expiry_or_revocation(records, stage, tmp_path):
    stage()
    approve(records, policy(1), run="run00001", by="ana")
    with pytest.raises(GovernanceError, match="not a recipient named"):
        export(records, run="run00001", to=tmp_path / "out", recipient="someone-else")
    copied = export(records, run="run00001", to=tmp_path / "out", recipient="analytics")
    assert (tmp_path / "out").joinpath(copied["copied_to"]).joinpath("TERMS.md").is_file()
    revoked = revoke(records, run="run00001", by="ana", reason="a vendor reported a suspicious row")
    assert revoked["recipients"] == ["analytics"]  # who to tell, from the export records
    with pytest.raises(GovernanceError, match="revoked"):
        export(records, run="run00001", to=tmp_path / "again", recipient="analytics")


def test_revocation_marks_every_document(records, stage):
    folder = stage()
    publish_if_approved(records, policy(0), run_id="run00001-aaaa")
    revoke(records, run="run00001", by="ana", reason="incident 42")
    release = folder / RELEASE_DIR
    assert "incident 42" in (release / "REVOKED.md").read_text(encoding="utf-8")
    assert (release / "TERMS.md").read_text(encoding="utf-8").startswith("# REVOKED")
    for name in ("release.json", "model_card.json"):
        assert json.loads((release / name).read_text(encoding="utf-8"))["REVOKED"]["reason"] == "incident 42"
    with pytest.raises(GovernanceError, match="revoked"):
        revoke(records, run="run00001", by="ana", reason="again")


def test_an_expired_release_is_not_handed_out_again(records, stage, tmp_path):
    stage()
    publish_if_approved(records, policy(0, expiry_days=1e-9), run_id="run00001-aaaa")
    with pytest.raises(GovernanceError, match="terms expired"):
        export(records, run="run00001", to=tmp_path / "out", recipient="analytics")
    assert not (tmp_path / "out").exists()


def test_records_work_on_both_ledger_stores(ledger_location, tmp_path):
    """The release records live in the ledger's store: DuckDB or PostgreSQL alike."""
    from synth_pipeline_tests.helpers.governance import records_at, stage_release_for_test

    records = records_at(ledger_location)
    folder = stage_release_for_test(tmp_path, records)
    approve(records, policy(1), run="run00001", by="ana", note="ok")
    assert (folder / RELEASE_DIR / "TERMS.md").is_file()
    assert _events(records, "run00001-aaaa") == ["staged", "approved", "published"]
    assert records.by_release("adult/drop.csv/run00001").run_id == "run00001-aaaa"


def test_approvers_notes_stay_internal(records, stage):
    """A note may quote the internal review (non-DP gate values): it never reaches release/."""
    folder = stage()
    approve(records, policy(1), run="run00001", by="ana", note="membership AUC 0.5317 looked fine")
    texts = [p.read_text(encoding="utf-8", errors="ignore") for p in (folder / RELEASE_DIR).iterdir()]
    assert all("0.5317" not in t for t in texts)
    assert records.state("run00001-aaaa").approvals[0]["note"] == "membership AUC 0.5317 looked fine"


def test_a_re_executed_run_is_approved_by_the_model_run_folder(records, tmp_path):
    """Dagster's re-execution records the release under a new run id, in the training run's folder."""
    from synth_pipeline_tests.helpers.governance import stage_release_for_test

    folder = stage_release_for_test(tmp_path, records, "run00002-rexec")
    records.append_if(run_id="run00003-later", event="staged", detail={"folder": str(folder)},
                      release_id="adult/drop.csv/run00009", dataset="adult", partition_key="drop.csv")
    assert records.find("run00009") == "run00003-later"  # the folder's name finds the run that staged it
    assert records.by_release("adult/drop.csv/run00009").run_id == "run00003-later"


def test_an_interrupted_publication_is_finished_by_the_next_call(records, stage, monkeypatch):
    from synth_pipeline.governance import releases

    folder = stage()
    real_write = releases._write
    monkeypatch.setattr(releases, "_write", lambda *a: (_ for _ in ()).throw(OSError("killed")))
    with pytest.raises(OSError):
        publish_if_approved(records, policy(0), run_id="run00001-aaaa")
    assert records.state("run00001-aaaa").status == "published" and not (folder / RELEASE_DIR).exists()
    monkeypatch.setattr(releases, "_write", real_write)
    assert publish_if_approved(records, policy(0), run_id="run00001-aaaa")["folder"] == str(folder / RELEASE_DIR)
    assert (folder / RELEASE_DIR / "TERMS.md").is_file() and _events(records, "run00001-aaaa").count("published") == 1


def test_a_rejection_recorded_first_wins_over_a_late_publication(records, stage):
    folder = stage()
    approve(records, policy(2), run="run00001", by="ana")
    reject(records, policy(2), run="run00001", by="ben", note="wrong recipients")
    # A publication that read the state before the rejection claims nothing afterwards.
    assert publish_if_approved(records, policy(1), run_id="run00001-aaaa") is None
    assert not (folder / RELEASE_DIR).exists() and records.state("run00001-aaaa").status == "rejected"


def test_a_model_blocked_or_rejected_once_is_refused_for_good(records, stage):
    from synth_pipeline.governance.releases import earlier_refusal

    record_blocked(records, run_id="run00002-bbbb", release_id="adult/d.csv/run00002", dataset="adult",
                   partition_key="d.csv", failed_gates=["copy_ceiling"])
    assert "first audit failed its gates (copy_ceiling)" in earlier_refusal(records, "adult/d.csv/run00002")
    stage()
    assert earlier_refusal(records, "adult/drop.csv/run00001") is None
    reject(records, policy(1), run="run00001", by="ana", note="no")
    assert "ana rejected" in earlier_refusal(records, "adult/drop.csv/run00001")


def test_export_needs_recipients_named_in_the_terms(records, stage, tmp_path):
    from synth_pipeline.governance.policy import ApprovalPolicy, GovernancePolicy

    stage()
    publish_if_approved(records, GovernancePolicy(approval=ApprovalPolicy()), run_id="run00001-aaaa")
    with pytest.raises(GovernanceError, match="name no recipient"):
        export(records, run="run00001", to=tmp_path / "out", recipient="anyone")
