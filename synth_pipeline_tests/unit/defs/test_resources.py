"""The resources' settings: the training pool per dataset, the ledger's location, threads per run."""

import shutil

import yaml

from synth_pipeline.defs.resources import LedgerResource, ProjectFiles, training_pool
from synth_pipeline_tests.helpers import ROOT, SCHEMA


def test_the_training_pool_is_the_datasets_so_two_datasets_train_at_once(tmp_path, monkeypatch):
    from synth_pipeline.definitions import defs

    dp_model = next(a for a in defs().assets if a.key.to_user_string() == "dp_model")
    assert dp_model.op.pool == training_pool() == "train_adult"
    others = {a.op.pool for a in defs().assets if a.key.to_user_string() != "dp_model" and hasattr(a, "op")}
    assert "train_adult" not in others  # only training is held to one release at a time
    (tmp_path / "data" / "sample").mkdir(parents=True)
    raw = yaml.safe_load(SCHEMA.read_text(encoding="utf-8"))
    raw["dataset"] = "claims 2026"
    (tmp_path / "data" / "sample" / "adult_schema.yaml").write_text(yaml.safe_dump(raw), encoding="utf-8")
    monkeypatch.setenv("SYNTH_PIPELINE_ROOT", str(tmp_path))
    assert training_pool() == "train_claims_2026"  # another code location's dataset: another pool


def test_threads_follow_the_instance_run_concurrency(tmp_path):
    shutil.copytree(ROOT / "data" / "sample", tmp_path / "data" / "sample")
    files = ProjectFiles(root=str(tmp_path), policy_path=str(ROOT / "data" / "release_policy.yaml"))
    ledger = LedgerResource(path=str(tmp_path / "ledger.duckdb"))
    from synth_pipeline.threads import available_cores

    assert files.chain(ledger, concurrent_runs=1).threads == available_cores()
    assert files.chain(ledger, concurrent_runs=10 * available_cores()).threads == 1
    assert ProjectFiles(root=str(tmp_path), threads=3).chain(ledger, concurrent_runs=2).threads == 3
