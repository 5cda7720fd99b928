"""The Definitions object: every asset, check, sensor, schedule and job."""

import json
import os
from pathlib import Path

import dagster as dg

from synth_pipeline.definitions import build_definitions
from synth_pipeline.evaluation.gates import GATES

SNAPSHOT = Path(__file__).with_name("definitions_snapshot.json")
defs = build_definitions()


def definitions_snapshot(definitions: dg.Definitions) -> dict:
    """Every asset (group, parents, pool, automation, IO manager), check (blocking), job (its
    assets), schedule (cron, job), sensor and resource of the code location, as plain data."""
    repo = definitions.get_repository_def()
    graph = repo.asset_graph
    assets = {}
    for key in sorted(graph.get_all_asset_keys(), key=lambda k: k.to_user_string()):
        node = graph.get(key)
        assets[key.to_user_string()] = {
            "group": node.group_name, "parents": sorted(k.to_user_string() for k in node.parent_keys),
            "pool": node.pools and sorted(node.pools)[0] or None,
            "automation": node.automation_condition is not None,
            "io_manager": node.assets_def.get_io_manager_key_for_asset_key(key)}
    checks = {f"{k.asset_key.to_user_string()}:{k.name}": graph.get(k).blocking
              for k in sorted(graph.asset_check_keys, key=lambda k: (k.asset_key.to_user_string(), k.name))}
    jobs = {name: sorted(k.to_user_string() for k in repo.get_job(name).asset_layer.selected_asset_keys)
            for name in sorted(repo.job_names) if not name.startswith("__")}
    return {"assets": assets, "checks": checks, "jobs": jobs,
            "schedules": {s.name: [s.cron_schedule, s.job_name] for s in repo.schedule_defs},
            "sensors": sorted(s.name for s in repo.sensor_defs),
            "resources": sorted(definitions.resources or {})}


def test_definitions_match_their_snapshot():
    """The whole Definitions object. After a deliberate change: SNAPSHOT_UPDATE=1 pytest this test."""
    current = definitions_snapshot(defs)
    if os.environ.get("SNAPSHOT_UPDATE"):
        SNAPSHOT.write_text(json.dumps(current, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    assert current == json.loads(SNAPSHOT.read_text(encoding="utf-8"))


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
    assert {s.name for s in repo.sensor_defs} == {"incoming_drops_sensor", "default_automation_condition_sensor"}
    assert {s.name for s in repo.schedule_defs} == {"nightly_audit_refresh", "weekly_privacy_audit", "daily_retention"}
    assert {"synthesize_release", "refresh_audit", "approve_release", "retention_sweep"} <= set(repo.job_names)
    graph = repo.asset_graph
    assert {k.to_user_string() for k in graph.get(dg.AssetKey("dp_model")).parent_keys} == {"raw_dataset", "holdout_split", "dp_config"}


def test_run_steps_fork_from_a_server_that_imported_the_project():
    """Under the default spawn, each step imported Dagster, pandas and dp-accounting again (5 to
    11 s a step on 2 cores); a run's config still sets how many steps run at once."""
    executor = defs.resolve_job_def("synthesize_release").executor_def
    config = executor.apply_config_mapping({"config": {"max_concurrent": 3}}).value["config"]
    preload = config["start_method"]["forkserver"]["preload_modules"]
    assert preload[0] == "synth_pipeline.definitions" and "synth_pipeline.defs.assets" in preload
    assert config["max_concurrent"] == 3


def test_run_steps_are_spawned_where_there_is_no_forkserver(monkeypatch):
    import multiprocessing

    monkeypatch.setattr(multiprocessing, "get_all_start_methods", lambda: ["spawn"])  # Windows
    executor = defs.resolve_job_def("synthesize_release").executor_def
    assert executor.apply_config_mapping({"config": {}}).value["config"]["start_method"] == {"spawn": {}}
