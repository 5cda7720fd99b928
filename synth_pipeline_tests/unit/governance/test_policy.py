"""The governance policy file: the repository's own loads, and every mistake names its key."""

import pytest
import yaml

from synth_pipeline.governance.policy import GovernancePolicyError, load_governance
from synth_pipeline_tests.helpers import ROOT


def test_the_repositorys_policy_keeps_the_demo_one_command_and_names_approvers():
    policy = load_governance(ROOT / "data" / "governance.yaml")
    assert policy.approval.required == 0 and policy.approval.approvers  # approvers ready for required: 1
    assert policy.terms.recipients and policy.terms.expiry_days > 0
    assert policy.retention.days_for("raw_drops") is not None


def test_no_file_means_no_approval_default_terms_and_nothing_deleted(tmp_path):
    policy = load_governance(tmp_path / "absent.yaml")
    assert policy.approval.required == 0 and policy.source == "defaults"
    assert all(days is None for days in policy.retention.as_dict().values())


@pytest.mark.parametrize("raw, message", [
    ({"approval": {"required": 3, "approvers": ["a", "b", "c"]}}, "approval.required must be 0, 1 or 2"),
    ({"approval": {"required": 2, "approvers": ["a"]}}, "names 1; list at least as many approvers"),
    ({"approval": {"required": 1, "approvers": ["a", "a"]}}, "names someone twice"),
    ({"approval": {"required": 1, "approvers": [""]}}, "list of non-empty names"),
    ({"terms": {"expiry_days": None}}, "terms always end"),
    ({"terms": {"contact": ""}}, "terms.contact must be non-empty"),
    ({"retention_days": {"models": -1}}, "retention_days.models must be a positive number"),
    ({"retention_days": {"ledger": 30}}, "unknown key\\(s\\) \\['ledger'\\] in retention_days"),
    ({"approvals": {}}, "unknown key\\(s\\) \\['approvals'\\]"),
])
def test_a_wrong_policy_names_the_key_to_fix(tmp_path, raw, message):
    path = tmp_path / "governance.yaml"
    path.write_text(yaml.safe_dump(raw))
    with pytest.raises(GovernancePolicyError, match=message):
        load_governance(path)


def test_terms_end_within_a_century(tmp_path):
    path = tmp_path / "governance.yaml"
    path.write_text(yaml.safe_dump({"terms": {"expiry_days": 1e7}}))
    with pytest.raises(GovernancePolicyError, match="up to 36500"):
        load_governance(path)
