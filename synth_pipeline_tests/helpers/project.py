"""A temporary project to run the real asset chain in-process on a small slice: incoming folder,
schema, ledger, outputs and a Dagster instance (the ``project`` fixture of conftest.py builds one)."""

import shutil
from dataclasses import fields
from pathlib import Path

import dagster as dg
import yaml

from synth_pipeline.definitions import build_definitions
from synth_pipeline.defs.partitions import data_drops
from synth_pipeline.defs.resources import LedgerResource, ProjectFiles
from synth_pipeline.evaluation.gates import AuditPolicy
from synth_pipeline_tests.helpers import ROOT, SCHEMA, TEST_MAX_ROWS

POLICY = ROOT / "data" / "release_policy.yaml"  # the release policy of the repository


def instance_settings() -> dict:
    """The repository's dagster.yaml settings a test instance must share: the managed Python
    loggers that put the core's progress lines in the run log."""
    raw = yaml.safe_load((ROOT / "dagster.yaml").read_text(encoding="utf-8"))
    return {"python_logs": raw["python_logs"]}

# Small and fast: a few noisy steps on ~1,000 rows. Every audit threshold is relaxed: a model
# this small is not meant to be useful, and with a 240-row holdout the attack estimates are
# too noisy to gate on (a standard error of about 0.1 on a Giomi et al. risk). The release
# policy itself is tested on the whole sample (test_audit_gates.py); the gate tests here set
# their own thresholds.
FAST_RUN = {"generator": "dp-tvae", "epochs": 2, "batch_size": 48, "epsilon": 3.0}
LENIENT_POLICY = {f.name: (0.0 if f.name.startswith("min_") else 1.0) for f in fields(AuditPolicy)}


class Project:
    """A temporary project: incoming folder, schema, ledger, outputs and Dagster instance."""

    def __init__(self, root: Path, instance: dg.DagsterInstance):
        self.root = root
        self.instance = instance
        self.incoming = root / "incoming"
        self.incoming.mkdir()
        self.schema_path = root / "schema.yaml"
        shutil.copyfile(SCHEMA, self.schema_path)
        self.edit_schema(lambda raw: raw.update(max_rows=TEST_MAX_ROWS))  # the slices' public row bound
        self.ledger_resource = LedgerResource(path=str(root / "ledger.duckdb"))

    def edit_schema(self, edit) -> None:
        raw = yaml.safe_load(self.schema_path.read_text())
        edit(raw)
        self.schema_path.write_text(yaml.safe_dump(raw))

    @property
    def files(self) -> ProjectFiles:
        return ProjectFiles(root=str(self.root), schema_path="schema.yaml", incoming_dir="incoming",
                            outputs_dir="outputs", policy_path=str(POLICY))

    def defs(self) -> dg.Definitions:
        return build_definitions(files=self.files, ledger=self.ledger_resource)

    def drop(self, name: str, frame) -> str:
        frame.to_csv(self.incoming / name, index=False)
        if not self.instance.has_dynamic_partition(data_drops.name, name):
            self.instance.add_dynamic_partitions(data_drops.name, [name])
        return name

    def run(self, partition: str, *, config: dict | None = None, policy: dict | None = None,
            job: str = "synthesize_release"):
        run_config = {"ops": {"dp_config": {"config": {**FAST_RUN, **(config or {})}},
                              "audit_metrics": {"config": {**LENIENT_POLICY, **(policy or {})}}}}
        if job != "synthesize_release":
            run_config["ops"].pop("dp_config")
        return self.defs().resolve_job_def(job).execute_in_process(
            partition_key=partition, instance=self.instance, run_config=run_config, raise_on_error=False)

    def ledger(self):
        return self.ledger_resource.ledger()


def materialized(result) -> set[str]:
    return {e.asset_key.to_user_string() for e in result.get_asset_materialization_events()}


def failed_checks(result) -> dict[str, str]:
    return {e.check_name: e.description for e in result.get_asset_check_evaluations() if not e.passed}


def paths_of(result, node: str) -> dict[str, str]:
    """The paths an asset wrote (Documents or Release), as strings."""
    return {k: str(v) for k, v in result.output_for_node(node).paths.items()}
