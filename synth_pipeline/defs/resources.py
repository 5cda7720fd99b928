"""Resources: where the project's files live, the privacy ledger, and the chain they make."""

from __future__ import annotations

import os
from pathlib import Path

import dagster as dg

from synth_pipeline.evaluation.gates import AuditPolicy, load_policy
from synth_pipeline.privacy.ledger import PrivacyLedger, is_database_url
from synth_pipeline.privacy.ledger_stores import open_store
from synth_pipeline.schema import TableSchema, load_schema


def project_root() -> Path:
    """SYNTH_PIPELINE_ROOT, else the checkout holding this package (editable install), else the cwd."""
    if os.environ.get("SYNTH_PIPELINE_ROOT"):
        return Path(os.environ["SYNTH_PIPELINE_ROOT"]).resolve()
    checkout = Path(__file__).resolve().parents[2]
    if (checkout / "dagster.yaml").is_file():
        return checkout
    return Path.cwd()


class ProjectFiles(dg.ConfigurableResource):
    """Folders, the schema and the release policy; relative paths are taken from the project root."""

    root: str = ""
    schema_path: str = "data/sample/adult_schema.yaml"
    incoming_dir: str = "data/incoming"
    outputs_dir: str = "data/outputs"
    policy_path: str = "data/release_policy.yaml"
    governance_path: str = "data/governance.yaml"  # approvals, terms of use, retention (governance.policy.DEFAULT_PATH)
    secret_path: str = "data/state/instance_secret"  # HMAC key of drop identities: never released
    references_dir: str = "data/state/drop_references"  # raw_dataset as references to the drops (defs.io)
    dagster_storage_dir: str = "data/state/dagster/storage"  # Dagster's stored asset values (dagster.yaml)
    # Threads per run for training and the audit; 0: the cores divided by the instance's
    # max_concurrent_runs (dagster.yaml), so that concurrent runs share the machine.
    threads: int = 0

    def path(self, relative: str) -> Path:
        base = Path(self.root) if self.root else project_root()
        p = Path(relative)
        return p if p.is_absolute() else base / p

    def schema(self) -> TableSchema:
        return load_schema(self.path(self.schema_path))  # parsed once per file version (schema.load_schema)

    def policy(self) -> AuditPolicy:
        """The release policy: one threshold per audit gate."""
        return load_policy(self.path(self.policy_path))

    def governance(self):
        """The governance policy: who approves, the terms releases carry, retention."""
        from synth_pipeline.governance.policy import load_governance

        return load_governance(self.path(self.governance_path))

    def retention_folders(self):
        """Where each kind of file that retention governs lives."""
        from synth_pipeline.governance.retention import Folders

        return Folders(outputs=self.path(self.outputs_dir), incoming=self.path(self.incoming_dir),
                       references=self.path(self.references_dir), dagster_storage=self.path(self.dagster_storage_dir))

    def instance_secret(self) -> bytes:
        from synth_pipeline.reporting.documents import instance_secret

        return instance_secret(self.path(self.secret_path))

    def drop_path(self, partition_key: str) -> Path:
        return self.path(self.incoming_dir) / partition_key

    def chain(self, ledger: "LedgerResource", *, concurrent_runs: int = 1):
        """The release chain over this project's schema, policy, folders and ledger; its heavy
        stages use ``threads`` threads, or the cores divided by ``concurrent_runs``."""
        from synth_pipeline.chain import ReleaseChain
        from synth_pipeline.threads import threads_per_run

        return ReleaseChain(schema=self.schema(), ledger=ledger.ledger(), outputs_dir=self.path(self.outputs_dir),
                            policy=self.policy, secret=self.instance_secret(),
                            schema_path=self.path(self.schema_path), governance=self.governance(),
                            threads=threads_per_run(concurrent_runs=concurrent_runs, setting=self.threads))


DEFAULT_BUDGETS = "data/budgets.yaml"  # the code location's budget policy file, when the project has one
_BUDGETS_APPLIED: set[tuple] = set()  # (ledger, file, modification time) applied in this process


class LedgerResource(dg.ConfigurableResource):
    """The privacy ledger: a DuckDB file of its own by default, or a PostgreSQL database when runs
    spread over several processes or machines (``url``: ``postgresql://USER@HOST:PORT/DB``). With
    neither ``url`` nor ``path`` set, the SYNTH_PIPELINE_LEDGER variable (a URL or a file) chooses,
    else data/state/ledger.duckdb. A dataset without a budget gets the default."""

    path: str = ""
    url: str = ""
    root: str = ""
    default_budget_epsilon: float = 10.0
    default_budget_delta: float = 1e-5
    # A budget policy file (privacy.release_types) recorded in the ledger whenever it changes;
    # empty: none. The code location sets data/budgets.yaml (definitions.build_definitions).
    budgets_path: str = ""

    def location(self) -> str:
        chosen = self.url or self.path or os.environ.get("SYNTH_PIPELINE_LEDGER", "") or "data/state/ledger.duckdb"
        if is_database_url(chosen):
            return chosen
        p = Path(chosen)
        if not p.is_absolute():
            p = (Path(self.root) if self.root else project_root()) / p
        return str(p)

    def records(self):
        """Release events (approvals, revocations) and deletions, in the ledger's store."""
        from synth_pipeline.governance.records import GovernanceRecords

        return GovernanceRecords(open_store(self.location(), lock_timeout_s=60.0))

    def ledger(self) -> PrivacyLedger:
        ledger = PrivacyLedger(self.location(), default_budget_epsilon=self.default_budget_epsilon,
                               default_budget_delta=self.default_budget_delta)
        if self.budgets_path:
            p = Path(self.budgets_path)
            p = p if p.is_absolute() else (Path(self.root) if self.root else project_root()) / p
            if p.is_file() or self.budgets_path != DEFAULT_BUDGETS:  # the default may be absent; a path given may not
                # Every step asks for the ledger: apply the file again only when it changed
                # since this process applied it (the ledger itself records each version once).
                version = (ledger.location, str(p), p.stat().st_mtime_ns if p.is_file() else None)
                if version not in _BUDGETS_APPLIED:
                    ledger.apply_budget_policy(p, over_earlier=False)
                    _BUDGETS_APPLIED.add(version)
        return ledger


def training_pool() -> str:
    """The concurrency pool of the dataset this code location releases: two releases of one
    dataset never train at once (dagster.yaml gives each pool one slot); another code
    location, another dataset, trains beside it. Read from the project's public schema."""
    from synth_pipeline.chain import safe_name
    from synth_pipeline.schema import SchemaError

    try:
        dataset = ProjectFiles().schema().dataset
    except (SchemaError, OSError):  # a broken schema fails at run time, saying why; the pool keeps a name
        dataset = "default"
    return f"train_{safe_name(dataset)}"
