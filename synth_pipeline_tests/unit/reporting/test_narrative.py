"""The audit narrative (synth_pipeline.reporting.narrative): chronological, run and ledger joined."""

from synth_pipeline.reporting import narrative
from synth_pipeline_tests.helpers.reporting import HISTORY


def test_narrative_is_chronological_and_joins_run_and_ledger():
    events = [{"at": 1_700_000_010.0, "kind": "ASSET_MATERIALIZATION", "asset": "dp_model"},
              {"at": 1_700_000_000.0, "kind": "RUN_START"},
              {"at": 1_700_000_020.0, "kind": "ASSET_CHECK_EVALUATION", "check": "dcr_ceiling",
               "asset": "audit_metrics", "passed": True},
              {"at": 1_700_000_021.0, "kind": "LOADED_INPUT"}]
    doc = narrative.build_narrative(run_id="run-1", partition_key="drop.csv", dataset="adult", generator="dp-tvae",
                                    events=events, ledger_events=HISTORY[1:], release_passed=True,
                                    generated_at="2023-11-14T22:13:50+00:00")
    whats = [e["what"] for e in doc["entries"]]
    assert whats[0] == "run started" and whats[-1] == "reports written"
    assert whats.index("event committed (counted as spent)") < whats.index("dp_model materialized")
    assert any(w.startswith("reserved ε=0.99") for w in whats) and "event committed (counted as spent)" in whats
    assert "gate dcr_ceiling on audit_metrics passed" in whats
    times = [e["at"] for e in doc["entries"]]
    assert times == sorted(times)
    assert "| dagster |" in narrative.render_markdown(doc)
