"""Defensive walks over the audit's shapes (synth_pipeline.reporting.common)."""

from synth_pipeline.reporting import compliance, plots
from synth_pipeline.reporting.common import attack_intervals, find_intervals, tstr_pairs
from synth_pipeline.reporting.privacy_report import build_privacy_report
from synth_pipeline_tests.helpers.reporting import AUDIT, CONFIG, GATES_OK, LEDGER, MODEL, PROFILE, statuses


def test_defensive_walks_find_intervals_and_tstr_pairs_at_any_depth():
    names = {i["name"] for i in find_intervals(AUDIT)}
    assert {"membership_inference", "anonymeter.singling_out", "anonymeter.linkability"} <= names
    nested = {"models": {"logreg": {"tstr_f1": 0.6, "trtr_f1": 0.7}, "hgb": {"tstr_auc": 0.8, "trtr_auc": 0.9}}}
    assert {(p["model"], p["metric"]) for p in tstr_pairs(nested)} == {("models.logreg", "f1"), ("models.hgb", "auc")}
    assert find_intervals({"mia": {"auc": 0.5, "auc_ci": [0.4, 0.6]}}) == [
        {"name": "mia.auc", "value": 0.5, "low": 0.4, "high": 0.6}]


def test_the_grown_audit_shape_is_read_per_model_and_per_attack():
    audit = {  # the shape evaluation/suite.py documents for issue 6
        "tstr": {"label": "income", "tstr_auc": 0.8, "trtr_auc": 0.9, "models": {
            "hist_gradient_boosting": {"trtr": {"auc": 0.9, "f1": 0.7}, "tstr": {"auc": 0.8, "f1": 0.6},
                                       "auc_ratio": 0.89},
            "logistic_regression": {"trtr": {"auc": 0.88}, "tstr": {"auc": 0.85}}}},
        "detection": {"auc": 0.7, "auc_ci": [0.65, 0.75]},
        "membership": {"auc": 0.51, "auc_ci": [0.47, 0.55]},
        "singling_out": {"risk": 0.02, "univariate": {"risk": 0.02, "ci": [0.0, 0.05]},
                         "multivariate": {"risk": 0.01, "ci": [0.0, 0.03]}},
        "linkability": {"risk": 0.01, "ci": [0.0, 0.02]},
        "inference": {"risk": 0.3, "columns": {"income": {"risk": 0.3, "ci": [0.25, 0.35]}}},
        "gates": GATES_OK, "passed": True,
    }
    pairs = {(p["model"], p["metric"]): (p["tstr"], p["trtr"]) for p in tstr_pairs(audit["tstr"])}
    assert pairs == {("models.hist_gradient_boosting", "auc"): (0.8, 0.9),
                     ("models.hist_gradient_boosting", "f1"): (0.6, 0.7),
                     ("models.logistic_regression", "auc"): (0.85, 0.88)}
    assert len(tstr_pairs(audit["tstr"])) == 3  # each pair once (model cards listed every pair twice)
    names = {i["name"] for i in attack_intervals(audit)}
    assert names == {"membership.auc", "singling_out.univariate", "singling_out.multivariate", "linkability",
                     "inference.columns.income"}  # detection AUC is utility, not an attack
    pr = build_privacy_report(model=MODEL, config=CONFIG, ledger_after=LEDGER, audit=audit, profile=PROFILE)
    assert pr["safety"]["risk_level"] == "medium"
    assert any("inference.columns.income" in w for w in pr["safety"]["warnings"])
    assert statuses(audit=audit)["GDPR"] == compliance.COMPLIANT  # all three WP29 criteria measured
    assert plots.attacks_png(audit)[:4] == b"\x89PNG" and plots.tstr_png(audit["tstr"])[:4] == b"\x89PNG"
