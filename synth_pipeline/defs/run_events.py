"""The current run's events as plain dicts for the audit narrative and the compliance status.

Keeps event kinds, asset and check names, verdicts and timestamps only: no log message,
no check description, no metadata value leaves Dagster's storage through here.
"""

from __future__ import annotations

import dagster as dg

KINDS = ("RUN_START", "RUN_SUCCESS", "RUN_FAILURE", "STEP_FAILURE", "ASSET_MATERIALIZATION",
         "ASSET_CHECK_EVALUATION")


def run_events(instance: dg.DagsterInstance, run_id: str) -> list[dict]:
    events = []
    for record in instance.all_logs(run_id):
        event = record.dagster_event
        if event is None or event.event_type_value not in KINDS:
            continue
        item = {"at": record.timestamp, "kind": event.event_type_value, "step": event.step_key}
        if event.event_type_value == "ASSET_CHECK_EVALUATION":
            evaluation = event.asset_check_evaluation_data
            item.update(check=evaluation.check_name, asset=evaluation.asset_key.to_user_string(),
                        passed=bool(evaluation.passed))
        elif event.asset_key is not None:
            item["asset"] = event.asset_key.to_user_string()
        events.append(item)
    return events


def gate_results(events: list[dict]) -> list[dict]:
    """The run's check verdicts so far, as gates ({gate, passed}); the last verdict of a check wins."""
    verdicts = {e["check"]: e["passed"] for e in events if e["kind"] == "ASSET_CHECK_EVALUATION"}
    return [{"gate": name, "passed": passed} for name, passed in verdicts.items()]


AUDIT_FIELDS = ("generator", "auditor", "claimed_epsilon", "empirical_epsilon_lower_bound", "confidence", "canaries",
                "guesses", "correct")


def latest_privacy_audit(instance: dg.DagsterInstance, partition_key: str) -> dict | None:
    """The latest empirical privacy audit of this drop (the opt-in ``privacy_audit`` asset),
    from its materialization metadata (counts and ε figures only), or None if never run.
    Read from the instance so the release does not depend on the opt-in asset."""
    result = instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=dg.AssetKey("privacy_audit"), asset_partitions=[partition_key]), limit=1)
    if not result.records:
        return None
    record = result.records[0]
    metadata = record.asset_materialization.metadata
    audit = {k: metadata[k].value for k in AUDIT_FIELDS if k in metadata}
    if not isinstance(audit.get("claimed_epsilon"), (int, float)):
        audit["claimed_epsilon"] = None  # "none (NOT DP)"
    audit.update(run_id=record.run_id, materialized_at=record.timestamp)
    return audit
