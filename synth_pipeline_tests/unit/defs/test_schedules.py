"""The nightly audit refresh schedule (synth_pipeline.defs.schedules)."""

from datetime import datetime, timezone

import dagster as dg

from synth_pipeline.defs.partitions import data_drops
from synth_pipeline.defs.schedules import nightly_audit_refresh


def test_schedule_refreshes_the_latest_partition(project):
    context = dg.build_schedule_context(instance=project.instance)
    assert isinstance(nightly_audit_refresh(context), dg.SkipReason)
    project.instance.add_dynamic_partitions(data_drops.name, ["first.csv", "second.csv"])
    when = datetime(2026, 11, 25, 2, tzinfo=timezone.utc)
    request = nightly_audit_refresh(dg.build_schedule_context(instance=project.instance, scheduled_execution_time=when))
    assert request.partition_key == "second.csv"
    assert request.run_key == "second.csv:2026-11-25"
