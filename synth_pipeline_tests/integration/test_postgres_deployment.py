"""The deployment past one process: Dagster's storage on PostgreSQL, the multiprocess executor
(every step in a process of its own) and the ledger on PostgreSQL, through the real chain."""

from __future__ import annotations

import shutil

import dagster as dg
import pytest
import yaml

from synth_pipeline.defs.partitions import data_drops
from synth_pipeline.privacy.ledger import PrivacyLedger
from synth_pipeline_tests.helpers import ROOT, schema_file_for_tests
from synth_pipeline_tests.helpers.multiprocess_chain import release_job
from synth_pipeline_tests.helpers.project import LENIENT_POLICY, instance_settings

pytestmark = pytest.mark.integration


def _project_root(tmp_path):
    """The repository's layout (schema, policy, incoming folder) in a temporary root."""
    schema_file_for_tests(tmp_path / "data" / "sample")
    (tmp_path / "data" / "incoming").mkdir()
    shutil.copyfile(ROOT / "data" / "release_policy.yaml", tmp_path / "data" / "release_policy.yaml")
    return tmp_path


def test_the_chain_on_postgres_storage_with_the_multiprocess_executor(postgres_server, tmp_path, monkeypatch,
                                                                      sample_frame):
    root = _project_root(tmp_path / "project")
    ledger_url, dagster_url = postgres_server.new_database(), postgres_server.new_database()
    monkeypatch.setenv("SYNTH_PIPELINE_ROOT", str(root))
    monkeypatch.setenv("SYNTH_PIPELINE_LEDGER", ledger_url)
    sample_frame.to_csv(root / "data" / "incoming" / "drop one.csv", index=False)
    deployment = yaml.safe_load((ROOT / "docs" / "deploy" / "postgres" / "dagster.yaml").read_text(encoding="utf-8"))
    # psycopg2 named: SQLAlchemy 2.1 takes plain postgresql:// to psycopg 3, where dagster-postgres
    # 0.29's NOTIFY fails (docs/deploy/postgres/dagster.yaml says the same).
    dagster_url = dagster_url.replace("postgresql://", "postgresql+psycopg2://")
    overrides = {**instance_settings(), "storage": {"postgres": {"postgres_url": dagster_url}},
                 "concurrency": deployment["concurrency"]}
    (tmp_path / "home").mkdir()
    with dg.instance_for_test(temp_dir=str(tmp_path / "home"), overrides=overrides) as instance:
        assert type(instance.run_storage).__name__ == "PostgresRunStorage"
        instance.add_dynamic_partitions(data_drops.name, ["drop one.csv"])
        run_config = {"ops": {"dp_config": {"config": {"generator": "mst", "epsilon": 2.0}},
                              "audit_metrics": {"config": LENIENT_POLICY}},
                      "execution": {"config": {"max_concurrent": 2}}}
        result = dg.execute_job(dg.reconstructable(release_job), instance=instance, run_config=run_config,
                                tags={"dagster/partition": "drop one.csv"})
        assert result.success
        run = instance.get_run_by_id(result.run_id)
        events = instance.all_logs(result.run_id)
        step_pids = {e.dagster_event.pid for e in events if e.is_dagster_event and e.step_key}
        assert len(step_pids) >= 5, "each step ran in a process of its own"
        materialized = {e.asset_key.to_user_string() for e in result.get_asset_materialization_events()}
        assert {"dp_model", "synthetic_table", "audit_metrics", "compliance_report", "released"} <= materialized
        assert run.tags["dagster/partition"] == "drop one.csv"
    (event,) = PrivacyLedger(ledger_url).history("adult")
    assert event["status"] == "committed" and event["mechanism"] == "zcdp" and event["partition_key"] == "drop one.csv"
