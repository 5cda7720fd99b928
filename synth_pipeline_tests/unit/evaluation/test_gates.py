"""Release gates and the release policy (synth_pipeline.evaluation.gates): missing, skipped
and errored metrics, thresholds, the policy file and its overrides."""

from __future__ import annotations

from dataclasses import fields

import pytest
import yaml

from synth_pipeline.evaluation.gates import (
    GATES,
    AuditPolicy,
    GateResult,
    PolicyError,
    evaluate_gates,
    load_policy,
    policy_from_mapping,
)
from synth_pipeline_tests.helpers import ROOT

POLICY = ROOT / "data" / "release_policy.yaml"


# -- gates ----------------------------------------------------------------------------------


def test_gates_with_missing_metrics_fail_with_a_message():
    gates = evaluate_gates({}, AuditPolicy())
    assert [g.gate for g in gates] == [spec.gate for spec in GATES]
    assert {"utility_floor", "dcr_ceiling", "copy_ceiling", "membership_inference_ceiling"} <= {g.gate for g in gates}
    for gate in gates:
        assert not gate.passed and gate.value is None
        assert gate.metric in gate.message and "not computed" in gate.message


def test_gate_with_one_missing_metric():
    metrics = {"tstr": {"auc_ratio": 0.95}, "dcr": {"dcr_share": 0.5, "dcr_share_upper": 0.51}}
    gates = {g.gate: g for g in evaluate_gates(metrics, AuditPolicy())}
    assert gates["utility_floor"].passed and gates["dcr_ceiling"].passed
    assert not gates["copy_ceiling"].passed and "exact_match_share" in gates["copy_ceiling"].message


def test_a_skipped_section_passes_its_gates_and_an_errored_one_fails_saying_why():
    metrics = {"tstr": {"skipped": "the schema declares no label column"},
               "membership": {"error": "membership inference needs at least 2 holdout rows"}}
    gates = {g.gate: g for g in evaluate_gates(metrics, AuditPolicy())}
    assert gates["utility_floor"].passed and "does not apply" in gates["utility_floor"].message
    assert not gates["membership_inference_ceiling"].passed
    assert "needs at least 2 holdout rows" in gates["membership_inference_ceiling"].message


@pytest.mark.parametrize("ratio, dcr_share, copies, passed", [
    (0.8, 0.6, 0.01, (True, True, True)),  # thresholds themselves pass
    (0.79, 0.61, 0.011, (False, False, False)),
    (1.0, 0.0, 0.0, (True, True, True)),
])
def test_gate_thresholds(ratio, dcr_share, copies, passed):
    metrics = {"tstr": {"auc_ratio": ratio}, "dcr": {"dcr_share": dcr_share, "dcr_share_upper": dcr_share,
                                                     "exact_match_share": copies}}
    gates = {g.gate: g for g in evaluate_gates(metrics, AuditPolicy())}
    chosen = [gates[name] for name in ("utility_floor", "dcr_ceiling", "copy_ceiling")]
    assert tuple(g.passed for g in chosen) == passed
    for gate in chosen:
        assert ("passed" if gate.passed else "failed") in gate.message
        assert f"{gate.threshold:.4g}" in gate.message and f"{gate.value:.4g}" in gate.message
        assert isinstance(gate, GateResult) and gate.as_dict()["gate"] == gate.gate


def test_policy_thresholds_are_used():
    strict = AuditPolicy(min_tstr_auc_ratio=0.99, max_dcr_share=0.4, max_exact_match_share=0.0)
    metrics = {"tstr": {"auc_ratio": 0.95}, "dcr": {"dcr_share": 0.5, "exact_match_share": 0.001}}
    gates = {g.gate: g for g in evaluate_gates(metrics, strict)}
    assert not any(gates[name].passed for name in ("utility_floor", "dcr_ceiling", "copy_ceiling"))


def test_the_policy_file_in_the_repository_holds_every_threshold_with_the_default_values():
    raw = yaml.safe_load(POLICY.read_text(encoding="utf-8"))["thresholds"]
    assert set(raw) == {f.name for f in fields(AuditPolicy)}  # a threshold per metric, no more
    assert load_policy(POLICY) == AuditPolicy()
    assert {spec.threshold for spec in GATES} == set(raw)  # each threshold has its gate


@pytest.mark.parametrize("content, expected", [
    ("thresholds: {max_membership_auc: 0.55}", None),
    ("thresholds: {max_magic: 1}", "unknown threshold"),
    ("thresholds: {max_membership_auc: high}", "must be a finite number"),
    ("thresholds: [1, 2]", "must be a mapping"),
    ("thresholds: {max_membership_auc: .nan}", "must be a finite number"),
])
def test_policy_file_is_validated(tmp_path, content, expected):
    path = tmp_path / "policy.yaml"
    path.write_text(content, encoding="utf-8")
    if expected is None:
        assert load_policy(path).max_membership_auc == 0.55
        assert load_policy(path).max_dcr_share == AuditPolicy().max_dcr_share
    else:
        with pytest.raises(PolicyError, match=expected):
            load_policy(path)


def test_overrides_apply_over_a_base_policy():
    base = AuditPolicy(max_dcr_share=0.55)
    policy = policy_from_mapping({"min_tstr_auc_ratio": 0.0}, base=base)
    assert policy.min_tstr_auc_ratio == 0.0 and policy.max_dcr_share == 0.55


@pytest.mark.parametrize("risk, upper, passed", [(0.05, 0.09, True), (0.05, 0.12, False), (0.09, 0.1, True)])
def test_an_attack_ceiling_compares_the_upper_end_of_its_interval(risk, upper, passed):
    metrics = {"singling_out": {"risk": risk, "ci": [0.0, upper + 0.01], "upper": upper}}
    gate = next(g for g in evaluate_gates(metrics, AuditPolicy()) if g.gate == "singling_out_ceiling")
    assert gate.passed is passed and gate.value == risk and gate.compared == upper
    assert f"upper 95% bound {upper:.4g}" in gate.message


def test_an_attack_ceiling_without_an_interval_cannot_pass():
    gate = next(g for g in evaluate_gates({"linkability": {"risk": 0.0}}, AuditPolicy())
                if g.gate == "linkability_ceiling")
    assert not gate.passed and "no confidence interval" in gate.message


def test_the_policy_file_states_the_side_each_gate_compares(tmp_path):
    from synth_pipeline.evaluation.gates import PolicyError, compared_sides, load_policy

    text = POLICY.read_text(encoding="utf-8")
    assert yaml.safe_load(text)["compared"] == compared_sides()
    wrong = tmp_path / "policy.yaml"
    wrong.write_text(text.replace("max_singling_out_risk: upper_bound", "max_singling_out_risk: point"), "utf-8")
    with pytest.raises(PolicyError, match="max_singling_out_risk"):
        load_policy(wrong)
