"""The privacy report of one release (synth_pipeline.reporting.privacy_report), on
hand-made release facts (no training)."""

import copy

import pytest

from synth_pipeline.reporting import model_card
from synth_pipeline.reporting.privacy_report import build_privacy_report, epsilon_score
from synth_pipeline_tests.helpers.reporting import AUDIT, CONFIG, LEDGER, MODEL, PROFILE


def test_privacy_report_facts_score_and_recommendations():
    pr = build_privacy_report(model=MODEL, config=CONFIG, ledger_after=LEDGER, audit=AUDIT, profile=PROFILE)
    assert pr["epsilon_achieved"] == 0.99 and pr["epsilon_target"] == 1.0
    assert pr["budget_utilization"] == pytest.approx(0.99)
    assert pr["privacy_level"] == "very strong"
    assert pr["privacy_score"]["score"] == pytest.approx(epsilon_score(0.99), abs=0.05)
    assert pr["ledger_after_release"]["remaining_epsilon"] == 8.3
    assert pr["recommendations"]["more_privacy"] and pr["recommendations"]["more_utility"]
    assert [epsilon_score(e) for e in (0, 1, 5, 10, 20, 50, 100)] == [10, 9, 7, 5, 3, 0, 0]


def test_marginal_generators_privacy_dict_with_rho_is_rendered():
    model = copy.deepcopy(MODEL)
    model.update(generator="aim")
    model["privacy"] = {"mechanism": "AIM", "dp_scope": "every measured marginal", "epsilon_target": 1.0,
                        "epsilon_spent": 1.0, "delta": 1e-6, "accountant": "zcdp", "rho": 0.02}
    pr = build_privacy_report(model=model, config=CONFIG, ledger_after=LEDGER, audit=AUDIT, profile=PROFILE)
    assert pr["mechanism_parameters"] == {"rho": 0.02}
    card = model_card.build_model_card(profile=PROFILE, config=CONFIG, model=model, audit=AUDIT)
    assert card["privacy"]["budget_split"]["training"]["mechanism"] == "AIM"
    assert "rho" in model_card.render_markdown(card)


def test_empirical_privacy_audit_above_the_claim_is_high_risk():
    audit = {**AUDIT, "privacy_audit": {"claimed_epsilon": 1.0, "empirical_epsilon_lower_bound": 2.5,
                                        "confidence": 0.95}}
    pr = build_privacy_report(model=MODEL, config=CONFIG, ledger_after=LEDGER, audit=audit, profile=PROFILE)
    assert pr["empirical_privacy_audit"]["exceeds_claim"] is True
    assert pr["safety"]["risk_level"] == "high" and pr["privacy_score"]["score"] == 0
    card = model_card.build_model_card(profile=PROFILE, config=CONFIG, model=MODEL, audit=audit)
    assert "Empirical privacy audit" in model_card.render_markdown(card)
    both = [{"auditor": "black-box", "claimed_epsilon": 1.0, "empirical_epsilon_lower_bound": 0.1},
            {"auditor": "white-box", "claimed_epsilon": 1.0, "empirical_epsilon_lower_bound": 0.4}]
    pr = build_privacy_report(model=MODEL, config=CONFIG, ledger_after=LEDGER, audit=AUDIT, profile=PROFILE,
                              privacy_audit=both)
    assert pr["empirical_privacy_audit"]["auditor"] == "white-box"
    assert pr["empirical_privacy_audit"]["exceeds_claim"] is False and pr["privacy_score"]["score"] > 0
