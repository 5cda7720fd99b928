"""raw_dataset never reaches Dagster's storage: its IO manager keeps a keyed reference to
the drop and refuses a drop that changed after the run read it."""

import shutil

import dagster as dg
import pytest

from synth_pipeline.defs.assets import dataset_profile, raw_dataset
from synth_pipeline.defs.io import DropReferenceIOManager
from synth_pipeline.defs.partitions import data_drops
from synth_pipeline.defs.resources import LedgerResource, ProjectFiles
from synth_pipeline_tests.helpers import SCHEMA

CANARY = "Ottoline Referencewright"


@pytest.fixture
def project(tmp_path, sample_frame):
    (tmp_path / "incoming").mkdir()
    shutil.copyfile(SCHEMA, tmp_path / "schema.yaml")
    frame = sample_frame.head(300).copy()
    frame.loc[0, "full_name"] = CANARY
    frame.to_csv(tmp_path / "incoming" / "drop.csv", index=False)
    files = ProjectFiles(root=str(tmp_path), schema_path="schema.yaml", incoming_dir="incoming")
    resources = {"files": files, "ledger": LedgerResource(path=str(tmp_path / "ledger.duckdb")),
                 "drop_io_manager": DropReferenceIOManager(files=files)}
    (tmp_path / "home").mkdir()
    with dg.instance_for_test(temp_dir=str(tmp_path / "home")) as instance:
        instance.add_dynamic_partitions(data_drops.name, ["drop.csv"])
        yield tmp_path, instance, resources


def test_the_drop_is_stored_as_a_keyed_reference_and_read_again(project):
    root, instance, resources = project
    result = dg.materialize([raw_dataset, dataset_profile], resources=resources, instance=instance,
                            partition_key="drop.csv")
    assert result.success
    assert result.output_for_node("dataset_profile").n_rows == 300  # re-read from the file
    stored = [p for p in root.rglob("*") if p.is_file() and p.name != "drop.csv"]
    assert not any(CANARY.encode() in p.read_bytes() for p in stored)
    references = list((root / "data" / "state" / "drop_references").rglob("*"))
    assert references and all(b"full_name" not in p.read_bytes() for p in references if p.is_file())


def test_a_drop_changed_after_it_was_read_is_refused(project):
    root, instance, resources = project
    assert dg.materialize([raw_dataset], resources=resources, instance=instance, partition_key="drop.csv").success
    text = (root / "incoming" / "drop.csv").read_text(encoding="utf-8")
    (root / "incoming" / "drop.csv").write_text(text.replace(CANARY, "Someone Else"), encoding="utf-8")
    result = dg.materialize([raw_dataset, dataset_profile], selection=[dataset_profile], resources=resources,
                            instance=instance, partition_key="drop.csv", raise_on_error=False)
    assert not result.success
    failure = next(e for e in result.all_events if e.is_step_failure)
    assert "changed or disappeared" in failure.event_specific_data.error.message
    assert CANARY not in failure.event_specific_data.error.message
