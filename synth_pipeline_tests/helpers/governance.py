"""A run folder with a staged release, for the governance tests (unit/governance, unit/commands)."""

import json

import pandas as pd

from synth_pipeline.evaluation.release import INTERNAL_DIR, STAGED_DIR
from synth_pipeline.governance.policy import ApprovalPolicy, GovernancePolicy, Terms
from synth_pipeline.governance.records import GovernanceRecords
from synth_pipeline.governance.releases import record_staged
from synth_pipeline.privacy.ledger import PrivacyLedger

DOCS = {
    "model_card": {"document": "model card", "classification": "PUBLIC", "dataset": "adult", "generator": "aim",
                   "guarantee": {"differentially_private": True, "epsilon": 1.0, "delta": 1e-6,
                                 "privacy_unit": "one row of the drop"},
                   "synthetic_rows": {"rows": 3, "source": "user"}},
    "privacy_report": {"document": "privacy report", "classification": "PUBLIC", "dataset": "adult"},
    "compliance_statement": {"document": "compliance statement", "classification": "PUBLIC", "dataset": "adult"},
}


def records_at(path) -> GovernanceRecords:
    return GovernanceRecords(PrivacyLedger(path).store)


def policy(required: int = 1, *, approvers=("ana", "ben"), **terms) -> GovernancePolicy:
    return GovernancePolicy(approval=ApprovalPolicy(required=required, approvers=tuple(approvers)),
                            terms=Terms(recipients=("analytics",), **terms), source="test policy")


def stage_release_for_test(tmp_path, records, run_id: str = "run00001-aaaa", *, partition: str = "drop.csv"):
    """A staged release of three synthetic rows under ``tmp_path/outputs``; returns its run folder."""
    folder = tmp_path / "outputs" / "adult" / partition / run_id[:8]
    staged = folder / INTERNAL_DIR / STAGED_DIR
    staged.mkdir(parents=True)
    rows = pd.DataFrame({"age": [30, 41, 52]})
    rows.to_csv(staged / "synthetic.csv", index=False)
    rows.to_parquet(staged / "synthetic.parquet", index=False)
    (staged / "public_documents.json").write_text(json.dumps(DOCS), encoding="utf-8")
    record_staged(records, run_id=run_id, release_id=f"adult/{partition}/{run_id[:8]}", dataset="adult",
                  partition_key=partition, facts={
        "epsilon": 1.0, "delta": 1e-6, "generator": "aim", "gates": [{"gate": "copy_ceiling", "passed": True}],
        "folder": str(folder), "internal_review": str(folder / INTERNAL_DIR)})
    return folder
