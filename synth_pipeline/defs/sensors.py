"""React to new drops: one dynamic partition and one run per new file, exactly once."""


import json

import dagster as dg

from synth_pipeline.data_io import SUPPORTED_SUFFIXES
from synth_pipeline.defs.jobs import synthesize_release
from synth_pipeline.defs.partitions import data_drops
from synth_pipeline.defs.resources import ProjectFiles


def new_drops(files: list[tuple[float, str]], cursor: str | None) -> tuple[list[str], str]:
    """Files after the cursor, in (mtime, name) order; the cursor keeps the last one seen."""
    last = tuple(json.loads(cursor)) if cursor else (float("-inf"), "")
    fresh = sorted(f for f in files if (f[0], f[1]) > last)
    new_cursor = json.dumps(list(fresh[-1])) if fresh else (cursor or json.dumps([float("-inf"), ""]))
    return [name for _, name in fresh], new_cursor


@dg.sensor(job=synthesize_release, minimum_interval_seconds=30, default_status=dg.DefaultSensorStatus.STOPPED,
           description="Watches the incoming folder for CSV or Parquet drops")
def incoming_drops_sensor(context: dg.SensorEvaluationContext, files: ProjectFiles) -> dg.SensorResult:
    folder = files.path(files.incoming_dir)
    found = [(p.stat().st_mtime, p.name) for p in folder.glob("*")
             if p.is_file() and p.suffix.lower() in SUPPORTED_SUFFIXES] if folder.is_dir() else []
    names, cursor = new_drops(found, context.cursor)
    existing = set(context.instance.get_dynamic_partitions(data_drops.name))
    to_add = [n for n in names if n not in existing]
    return dg.SensorResult(
        # run_key = file name: Dagster never launches two runs with the same key for this sensor.
        run_requests=[dg.RunRequest(run_key=name, partition_key=name) for name in to_add],
        dynamic_partitions_requests=[data_drops.build_add_request(to_add)] if to_add else [],
        cursor=cursor,
    )
