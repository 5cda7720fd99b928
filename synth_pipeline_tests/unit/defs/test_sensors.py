"""The incoming-drops sensor (synth_pipeline.defs.sensors)."""

import json
import os
import time

import dagster as dg

from synth_pipeline.defs.partitions import data_drops
from synth_pipeline.defs.sensors import incoming_drops_sensor, new_drops


def test_new_drops_orders_by_time_and_never_repeats():
    names, cursor = new_drops([(2.0, "b.csv"), (1.0, "a.csv")], None)
    assert names == ["a.csv", "b.csv"]
    again, cursor2 = new_drops([(2.0, "b.csv"), (1.0, "a.csv")], cursor)
    assert again == [] and cursor2 == cursor
    later, _ = new_drops([(2.0, "b.csv"), (1.0, "a.csv"), (2.0, "c.csv")], cursor)
    assert later == ["c.csv"]


def test_sensor_adds_one_partition_and_one_run_per_new_file_exactly_once(project, sample_frame):
    sample_frame.head(50).to_csv(project.incoming / "one.csv", index=False)
    (project.incoming / "notes.txt").write_text("not a drop")
    resources = {"files": project.files}

    first = incoming_drops_sensor(dg.build_sensor_context(instance=project.instance, resources=resources))
    assert [r.partition_key for r in first.run_requests] == ["one.csv"]
    assert [r.run_key for r in first.run_requests] == ["one.csv"]
    assert first.dynamic_partitions_requests[0].partition_keys == ["one.csv"]
    project.instance.add_dynamic_partitions(data_drops.name, ["one.csv"])

    second = incoming_drops_sensor(dg.build_sensor_context(instance=project.instance, resources=resources,
                                                           cursor=first.cursor))
    assert second.run_requests == [] and second.dynamic_partitions_requests == []

    newer = project.incoming / "two.parquet"
    sample_frame.head(50).to_parquet(newer, index=False)
    os.utime(newer, (time.time() + 5, time.time() + 5))
    third = incoming_drops_sensor(dg.build_sensor_context(instance=project.instance, resources=resources,
                                                          cursor=second.cursor))
    assert [r.partition_key for r in third.run_requests] == ["two.parquet"]
    assert json.loads(third.cursor)[1] == "two.parquet"


def test_sensor_skips_files_that_already_have_a_partition(project, sample_frame):
    sample_frame.head(50).to_csv(project.incoming / "known.csv", index=False)
    project.instance.add_dynamic_partitions(data_drops.name, ["known.csv"])
    result = incoming_drops_sensor(dg.build_sensor_context(instance=project.instance,
                                                           resources={"files": project.files}))
    assert result.run_requests == []
