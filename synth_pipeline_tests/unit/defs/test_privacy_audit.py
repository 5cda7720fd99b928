"""The privacy_audit asset: opt-in, with a blocking gate, its own job and schedule."""

import dagster as dg


def test_dagster_asset_is_opt_in_with_a_blocking_gate_its_own_job_and_schedule():
    from synth_pipeline.definitions import build_definitions
    from synth_pipeline.defs.privacy_audit import privacy_audit_gate

    repo = build_definitions().get_repository_def()
    key = dg.AssetKey("privacy_audit")
    assert {k.to_user_string() for k in repo.asset_graph.get(key).parent_keys} == {"raw_dataset", "holdout_split",
                                                                                    "dp_config"}
    assert key not in repo.get_job("synthesize_release").asset_layer.executable_asset_keys
    assert key in repo.get_job("privacy_audit_job").asset_layer.executable_asset_keys
    assert "weekly_privacy_audit" in {s.name for s in repo.schedule_defs}
    specs = [spec for a in repo.asset_graph.assets_defs for spec in a.check_specs if spec.asset_key == key]
    assert [s.name for s in specs] == ["privacy_audit_gate"] and specs[0].blocking
    failed = privacy_audit_gate({"gate": {"passed": False, "message": "exceeds"}, "empirical_epsilon_lower_bound": 2.0,
                                 "claimed_epsilon": 1.0, "confidence": 0.95})
    assert not failed.passed and failed.description == "exceeds"
