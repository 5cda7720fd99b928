"""Compliance status logic of one release (synth_pipeline.reporting.compliance), on hand-made
release facts (no training)."""

import copy

from synth_pipeline.reporting import compliance
from synth_pipeline.reporting.privacy_report import build_privacy_report
from synth_pipeline_tests.helpers.reporting import AUDIT, CONFIG, LEDGER, MODEL, PII, PROFILE, statuses


def test_a_clean_dp_release_with_every_attack_measured_is_compliant_everywhere():
    assert statuses() == dict.fromkeys(compliance.FRAMEWORKS, compliance.COMPLIANT)


def test_a_failed_gate_makes_every_framework_non_compliant():
    audit = copy.deepcopy(AUDIT)
    audit["gates"][1].update(value=0.7, passed=False)
    audit["passed"] = False
    assert set(statuses(audit=audit).values()) == {compliance.NON_COMPLIANT}


def test_a_failed_dagster_gate_outside_the_audit_counts_too():
    extra = [{"gate": "dp_guarantee", "passed": False}, {"gate": "dcr_ceiling", "passed": True}]
    assert set(statuses(extra_gates=extra).values()) == {compliance.NON_COMPLIANT}
    pr = build_privacy_report(model=MODEL, config=CONFIG, ledger_after=LEDGER, audit=AUDIT, profile=PROFILE)
    ev = compliance.evidence(privacy_report=pr, pii=PII, audit=AUDIT, run_id="r", extra_gates=extra)
    assert [g["gate"] for g in ev["gates"]] == ["utility_floor", "dcr_ceiling", "dp_guarantee"]  # one per gate


def test_a_non_private_generator_is_never_compliant():
    model = copy.deepcopy(MODEL)
    model.update(generator="tvae", is_dp=False)
    result = statuses(model=model)
    assert set(result.values()) == {compliance.NON_COMPLIANT}
    pr = build_privacy_report(model=model, config=CONFIG, ledger_after=LEDGER, audit=AUDIT, profile=PROFILE)
    assert pr["privacy_score"]["score"] == 0 and pr["safety"]["risk_level"] == "high"
    assert pr["epsilon_achieved"] is None


def test_framework_specific_reviews():
    pii = {**PII, "quasi_identifiers": ["age", "zip"]}
    assert statuses(pii=pii)["HIPAA"] == compliance.REVIEW  # Safe Harbor identifiers survive
    audit = {k: v for k, v in AUDIT.items() if k != "anonymeter"}
    result = statuses(audit=audit)
    assert result["GDPR"] == compliance.REVIEW  # WP29 criteria not all measured
    assert result["SOC 2"] == compliance.COMPLIANT
    weak = copy.deepcopy(MODEL)
    weak["privacy"].update(epsilon_spent=15.0, epsilon_target=15.0)
    assert set(statuses(model=weak).values()) == {compliance.REVIEW}


def test_every_framework_states_what_it_cannot_decide_and_its_evidence():
    pr = build_privacy_report(model=MODEL, config=CONFIG, ledger_after=LEDGER, audit=AUDIT, profile=PROFILE)
    report = compliance.build_compliance(privacy_report=pr, pii=PII, audit=AUDIT, run_id="run-1")
    for fw in report["frameworks"].values():
        assert fw["requirements"] and fw["recommendations"] and fw["reasons"]
        assert "legal" in fw["cannot_decide"] or "auditor" in fw["cannot_decide"]
        assert fw["evidence"]["epsilon"] == 0.99 and fw["evidence"]["ledger"]["spent_epsilon"] == 1.7
    assert "membership_inference" in report["evidence"]["attack_results (internal, not DP)"]
