"""A person, not a row, through the real asset chain: the ledger event names the unit and k,
every document states the unit, what bounding dropped stays internal, and a person column
with empty cells stops before any charge."""

import json
from pathlib import Path

import numpy as np
import pytest

from synth_pipeline_tests.helpers.project import failed_checks, materialized

pytestmark = pytest.mark.integration


def _with_persons(raw):
    raw["columns"].append({"name": "patient id", "type": "string", "role": "direct_identifier"})
    raw.update(privacy_unit="patient id", max_rows_per_unit=4, max_units=raw["max_rows"])


def _panel(sample_frame):
    """Persons of 1 to 6 rows (more than k = 4 for some), named by ids that must never leak."""
    sizes = np.resize([1, 2, 3, 4, 5, 6], len(sample_frame))
    ids = np.repeat([f"PATIENT-{i:05d}" for i in range(len(sizes))], sizes)[:len(sample_frame)]
    return sample_frame.assign(**{"patient id": ids})


def test_a_person_level_release_names_its_unit_everywhere_and_keeps_the_counts_internal(project, sample_frame):
    project.edit_schema(_with_persons)
    partition = project.drop("panel.csv", _panel(sample_frame))
    result = project.run(partition, config={"generator": "mst", "epsilon": 2.0})
    assert {"dp_model", "synthetic_table", "audit_metrics", "compliance_report"} <= materialized(result)
    (event,) = project.ledger().history("adult")
    assert event["params"]["privacy_unit"] == "patient id" and event["params"]["rows_per_unit"] == 4
    assert event["epsilon"] <= 2.0
    model = result.output_for_node("dp_model").as_dict()
    assert model["plan"]["rows_per_unit"] == 4 and model["contribution_bounding"]["rows_dropped"] > 0
    internal = Path(model["model_dir"]).parent / "internal"
    report = json.loads(next(internal.rglob("privacy_report.json")).read_text(encoding="utf-8"))
    assert report["privacy_unit"].startswith("one person") and report["contribution_bounding"]["units_truncated"] > 0
    compliance = json.loads(next(internal.rglob("compliance.json")).read_text(encoding="utf-8"))
    assert "one person" in json.dumps(compliance, ensure_ascii=False)
    card = next(internal.rglob("model_card.md")).read_text(encoding="utf-8")
    assert "one person" in card and "at most 4 rows" in card
    texts = [p.read_text(encoding="utf-8", errors="ignore") for p in Path(model["model_dir"]).parent.rglob("*")
             if p.is_file() and p.suffix in (".json", ".md", ".csv", ".html")]
    assert not any("PATIENT-" in text for text in texts)  # the person ids never leave the drop
    release = Path(model["model_dir"]).parent / "release"
    if release.is_dir():  # released: the public documents state the unit, never the bounding counts
        public = "".join(p.read_text(encoding="utf-8") for p in release.glob("*.json"))
        assert "one person" in public and "rows_dropped" not in public and "units_truncated" not in public


def test_a_person_column_with_empty_cells_stops_before_any_charge(project, sample_frame):
    project.edit_schema(_with_persons)
    frame = _panel(sample_frame)
    frame.loc[[5, 17, 300], "patient id"] = None
    partition = project.drop("holes.csv", frame)
    result = project.run(partition, config={"generator": "mst", "epsilon": 2.0})
    assert not result.success and "dp_model" not in materialized(result)
    assert project.ledger().history("adult") == []
    message = " ".join(failed_checks(result).values())
    assert "patient id" in message and "3" in message and "PATIENT-" not in message


def test_k_is_a_run_setting_and_a_k_above_the_declared_maximum_stops_at_the_config_gate(project, sample_frame):
    project.edit_schema(_with_persons)
    partition = project.drop("k.csv", _panel(sample_frame))
    refused = project.run(partition, config={"generator": "mst", "epsilon": 2.0, "rows_per_unit": 9})
    assert not refused.success and "dp_model" not in materialized(refused)
    assert any("larger than the schema's max_rows_per_unit" in e
               for e in refused.output_for_node("dp_config").validation.errors)
    assert project.ledger().history("adult") == []
    result = project.run(partition, config={"generator": "mst", "epsilon": 2.0, "rows_per_unit": 2})
    assert "dp_model" in materialized(result)
    (event,) = project.ledger().history("adult")
    assert event["params"]["rows_per_unit"] == 2

