"""A config sweep: the release job once per setting (generator, ε, …) on one drop, each a
tagged Dagster run, then one comparison report of all of them.

Every run is a release charged in full to the dataset's ledger (docs/privacy.md, invariant 6); a run the
budget refuses is listed with its reason. Reads no private values itself: rows come from
the runs' written reports and gate verdicts.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import dagster as dg

from synth_pipeline.defs.resources import LedgerResource, ProjectFiles
from synth_pipeline.chain import safe_name
from synth_pipeline.reporting.comparison import build_comparison, comparison_row, write_comparison

SWEEP_TAG = "synth_pipeline/sweep"


def _reasons(result) -> list[str]:
    reasons = [f"gate {e.check_name} failed: {e.description}" for e in result.get_asset_check_evaluations()
               if not e.passed]
    reasons += [f"step {ev.step_key} failed: {ev.event_specific_data.error.message.strip().splitlines()[0]}"
                for ev in result.all_events if ev.is_step_failure
                and "DagsterAssetCheckFailedError" not in ev.event_specific_data.error.message]
    return reasons


def _read_json(path: str | Path) -> dict | None:
    p = Path(path)
    return json.loads(p.read_text(encoding="utf-8")) if p.is_file() else None


def run_sweep(*, defs: dg.Definitions, instance: dg.DagsterInstance, partition: str, settings: list[dict],
              files: ProjectFiles, ledger: LedgerResource, audit_policy: dict | None = None,
              base_config: dict | None = None, sweep_id: str | None = None) -> tuple[dict, dict[str, Path]]:
    """Run ``synthesize_release`` for each setting, then write the comparison under
    ``<outputs>/<dataset>/<partition>/comparisons/<sweep id>/``. Returns (comparison, paths)."""
    sweep_id = sweep_id or uuid.uuid4().hex[:8]
    job = defs.resolve_job_def("synthesize_release")
    rows = []
    for setting in settings:
        ops = {"dp_config": {"config": {**(base_config or {}), **setting}}}
        if audit_policy:
            ops["audit_metrics"] = {"config": audit_policy}
        # Dagster's console: warnings only; the progress lines reach the run log through
        # dagster.yaml's managed loggers, and the CLI's stderr once (synth_pipeline.console).
        result = job.execute_in_process(partition_key=partition, instance=instance, tags={SWEEP_TAG: sweep_id},
                                        run_config={"ops": ops, "loggers": {"console": {"config": {
                                            "log_level": "WARNING"}}}}, raise_on_error=False)
        reasons = _reasons(result)
        report = None
        materialized = {e.asset_key.to_user_string() for e in result.get_asset_materialization_events()}
        if "compliance_report" in materialized:
            report = {k: str(v) for k, v in result.output_for_node("compliance_report").paths.items()}
        rows.append(comparison_row(
            setting=setting, run_id=result.run_id, success=result.success and not reasons, reasons=reasons,
            release_report=_read_json(report["json"]) if report else None,
            privacy_report=_read_json(report["privacy_report"]) if report else None,
            report_path=report.get("html") if report else None))
    dataset = files.schema().dataset
    comparison = build_comparison(rows, dataset=dataset, partition=partition,
                                  ledger_after=ledger.ledger().spend(dataset).as_dict())
    comparison["sweep_id"] = sweep_id
    directory = files.path(files.outputs_dir) / safe_name(dataset) / safe_name(partition) / "comparisons" / sweep_id
    return comparison, write_comparison(comparison, directory)
