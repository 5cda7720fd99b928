"""Release governance in Dagster: the ``approve_release`` job (a person approves or rejects a
staged release from the Launchpad; the approval that completes the policy publishes it and
materializes ``released`` for its partition) and the daily retention sweep. Thin: the core
is ``synth_pipeline.governance``. Reads no data values.
"""

import dagster as dg

from synth_pipeline.defs.resources import LedgerResource, ProjectFiles
from synth_pipeline.governance.records import GovernanceError


class ApprovalConfig(dg.Config):
    """``run``: the run id of the staged release (or its first 8 characters, the run folder's
    name); ``by``: the approver, one of the governance policy's approvers; ``reject``: record
    a rejection instead (``note`` then says why)."""

    run: str
    by: str
    note: str = ""
    reject: bool = False


@dg.op
def record_approval(context: dg.OpExecutionContext, config: ApprovalConfig, files: ProjectFiles,
                    ledger: LedgerResource) -> None:
    from synth_pipeline.governance.releases import approve, reject

    records, policy = ledger.records(), files.governance()
    try:
        if config.reject:
            outcome = reject(records, policy, run=config.run, by=config.by, note=config.note)
        else:
            outcome = approve(records, policy, run=config.run, by=config.by, note=config.note)
    except GovernanceError as exc:
        raise dg.Failure(description=str(exc)) from None
    context.log.info(f"{outcome['release_id']}: {outcome['status']}")
    published = outcome.get("published")
    if published:
        state = records.state(outcome["run_id"])
        context.log_event(dg.AssetMaterialization(
            asset_key="released", partition=state.partition_key,
            metadata={"release_id": state.release_id, "path": dg.MetadataValue.path(published["csv"]),
                      "approved_by": ", ".join(a["actor"] for a in state.approvals),
                      "expires_at": published["expires_at"]}))


@dg.job(description="approve (or reject) a staged release; the approval that meets the governance policy publishes it")
def approve_release():
    record_approval()


@dg.op
def delete_expired(context: dg.OpExecutionContext, files: ProjectFiles, ledger: LedgerResource) -> None:
    from synth_pipeline.governance.retention import apply_retention

    result = apply_retention(ledger.records(), files.governance().retention, files.retention_folders())
    context.log.info("retention: " + ", ".join(f"{k} {v}" for k, v in result["deleted"].items()))


@dg.job(description="delete what the governance policy's retention keeps no longer, recording each deletion")
def retention_sweep():
    delete_expired()


@dg.schedule(job=retention_sweep, cron_schedule="30 3 * * *", execution_timezone="UTC",
             default_status=dg.DefaultScheduleStatus.STOPPED)
def daily_retention(context: dg.ScheduleEvaluationContext):
    """Daily: apply the retention policy (data/governance.yaml)."""
    return dg.RunRequest(run_key=f"retention:{context.scheduled_execution_time:%Y-%m-%d}")
