"""The Definitions object: every asset, check, sensor, schedule and job."""

import dagster as dg

from synth_pipeline.definitions import defs
from synth_pipeline.evaluation.gates import GATES


def test_definitions_hold_every_asset_check_sensor_schedule_and_job():
    repo = defs.get_repository_def()
    keys = {k.to_user_string() for k in repo.asset_graph.get_all_asset_keys()}
    assert keys == {"raw_dataset", "dataset_profile", "pii_scan", "dp_config", "holdout_split", "dp_model", "synthetic_table",
                    "audit_metrics", "compliance_report", "released", "privacy_audit"}
    checks = {k.name for k in repo.asset_graph.asset_check_keys}
    assert checks == {"raw_data_expectations", "no_direct_identifiers_in_training", "config_valid",
                      "budget_available", "dp_guarantee", "privacy_audit_gate", *(spec.gate for spec in GATES)}
    audit_checks = {k.name for k in repo.asset_graph.asset_check_keys if k.asset_key == dg.AssetKey("audit_metrics")}
    assert audit_checks == {spec.gate for spec in GATES}  # one blocking check per policy threshold
    assert {k.to_user_string() for k in repo.asset_graph.get(dg.AssetKey("released")).parent_keys} == {
        "synthetic_table", "audit_metrics", "dp_model", "dp_config", "compliance_report"}
    assert all(spec.blocking for a in repo.asset_graph.assets_defs for spec in a.check_specs)
    assert {s.name for s in repo.sensor_defs} == {"incoming_drops_sensor"}
    assert {s.name for s in repo.schedule_defs} == {"nightly_audit_refresh", "weekly_privacy_audit"}
    assert {"synthesize_release", "refresh_audit"} <= set(repo.job_names)
    graph = repo.asset_graph
    assert {k.to_user_string() for k in graph.get(dg.AssetKey("dp_model")).parent_keys} == {"raw_dataset", "holdout_split", "dp_config"}
