import dagster as dg

from synth_pipeline.defs.jobs import refresh_audit
from synth_pipeline.defs.partitions import data_drops


@dg.schedule(job=refresh_audit, cron_schedule="0 2 * * *", execution_timezone="UTC",
             default_status=dg.DefaultScheduleStatus.STOPPED)
def nightly_audit_refresh(context: dg.ScheduleEvaluationContext):
    """Nightly: re-audit the latest drop's release and rewrite its report."""
    return latest_drop_request(context)


def latest_drop_request(context: dg.ScheduleEvaluationContext, *, run_key_prefix: str = ""):
    """One run for the most recent data drop, keyed by the day (skipped before any drop)."""
    keys = context.instance.get_dynamic_partitions(data_drops.name)
    if not keys:
        return dg.SkipReason("no data drop has been registered yet")
    return dg.RunRequest(partition_key=keys[-1],
                         run_key=f"{run_key_prefix}{keys[-1]}:{context.scheduled_execution_time:%Y-%m-%d}")
