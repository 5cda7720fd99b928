"""Run events read back from the Dagster instance (synth_pipeline.defs.run_events)."""

from synth_pipeline.reporting.privacy_report import build_privacy_report
from synth_pipeline_tests.helpers.reporting import AUDIT, CONFIG, LEDGER, MODEL, PROFILE


def test_the_drops_latest_privacy_audit_is_read_from_the_instance_when_there_is_one():
    import dagster as dg

    from synth_pipeline.defs.run_events import latest_privacy_audit

    with dg.instance_for_test() as instance:
        assert latest_privacy_audit(instance, "drop.csv") is None
        for lower in (0.2, 0.3):
            instance.report_runless_asset_event(dg.AssetMaterialization(
                asset_key="privacy_audit", partition="drop.csv",
                metadata={"generator": "dp-tvae", "auditor": "black-box", "claimed_epsilon": 1.0,
                          "empirical_epsilon_lower_bound": lower, "confidence": 0.95, "canaries": 200}))
        audit = latest_privacy_audit(instance, "drop.csv")
        assert latest_privacy_audit(instance, "other.csv") is None
    assert audit["empirical_epsilon_lower_bound"] == 0.3 and audit["claimed_epsilon"] == 1.0
    pr = build_privacy_report(model=MODEL, config=CONFIG, ledger_after=LEDGER, audit=AUDIT, profile=PROFILE,
                              privacy_audit=audit)
    assert pr["empirical_privacy_audit"]["exceeds_claim"] is False
