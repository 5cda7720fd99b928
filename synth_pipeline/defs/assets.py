"""The asset chain, one data drop per partition. Each asset calls one core function."""


from dataclasses import fields

import dagster as dg
import numpy as np
import pandas as pd
from pydantic import create_model

from synth_pipeline import pipeline
from synth_pipeline.data_io import DropReadError, apply_holdout, draw_holdout, read_drop
from synth_pipeline.defs.partitions import data_drops
from synth_pipeline.defs.resources import LedgerResource, ProjectFiles
from synth_pipeline.defs.run_events import gate_results, latest_privacy_audit, run_events
from synth_pipeline.evaluation.audit import run_audit
from synth_pipeline.evaluation.gates import AuditPolicy, PolicyError, policy_from_mapping
from synth_pipeline.evaluation.release import INTERNAL_DIR, ReleaseRefused, record_decision, write_release
from synth_pipeline.pii import scan
from synth_pipeline.privacy.config import SynthesisConfig
from synth_pipeline.privacy.preprocessing import schema_with_statistics
from synth_pipeline.profiling import profile_dataset
from synth_pipeline.reporting.documents import build_documents, source_facts, write_documents
from synth_pipeline.reporting.public_release import build_public_documents, render_public_documents
from synth_pipeline.schema import SchemaError

GROUP = "synthesis"


class SynthesisRunConfig(dg.Config):
    """Settings of one release; empty generator/epochs/batch_size/delta take the recommended
    values (the generator expected to do best for this table and ε: aim, mst or dp-tvae)."""

    generator: str | None = None
    epsilon: float = 3.0
    delta: float | None = None
    epochs: int | None = None
    batch_size: int | None = None
    max_grad_norm: float = 1.0
    learning_rate: float = 5e-3
    synthetic_rows: int | None = None
    seed: int = 0  # weight initialisation and sampling from the fitted model only; never DP noise
    holdout_fraction: float = 0.2
    quality: str = "balanced"


# One optional field per threshold of the release policy (names as in the file): a run may
# override any of them; unset fields keep the file's value.
AuditPolicyConfig = create_model(
    "AuditPolicyConfig", __base__=dg.Config, __doc__="Per-run overrides of the release policy's thresholds.",
    **{f.name: (float | None, None) for f in fields(AuditPolicy)})


@dg.asset(partitions_def=data_drops, group_name=GROUP, kinds={"pandas"})
def raw_dataset(context: dg.AssetExecutionContext, files: ProjectFiles) -> pd.DataFrame:
    """The drop as read, discrete columns typed by the public schema. Reads private values (input)."""
    try:
        frame = read_drop(files.drop_path(context.partition_key), files.schema())
    except (DropReadError, SchemaError) as exc:
        raise dg.Failure(description=str(exc)) from None
    context.add_output_metadata({"rows": len(frame), "columns": len(frame.columns), "file": context.partition_key})
    return frame


@dg.asset(partitions_def=data_drops, group_name=GROUP)
def dataset_profile(context: dg.AssetExecutionContext, raw_dataset: pd.DataFrame, files: ProjectFiles) -> dict:
    """Shapes and types from the public schema; n (private, internal) feeds input checks only."""
    profile = profile_dataset(raw_dataset, files.schema())
    context.add_output_metadata({"rows": profile["n_rows"], "modelled_columns": len(profile["modelled_columns"]),
                                 "direct_identifiers": len(profile["direct_identifiers"])})
    return profile


@dg.asset(partitions_def=data_drops, group_name=GROUP)
def pii_scan(context: dg.AssetExecutionContext, raw_dataset: pd.DataFrame, dataset_profile: dict,
             files: ProjectFiles) -> dict:
    """Direct and quasi-identifiers; reads a sample of values, not DP, gate only."""
    result = scan(raw_dataset, files.schema())
    context.add_output_metadata({"dropped_before_training": result["dropped_before_training"],
                                 "findings": len(result["findings"]),
                                 "quasi_identifiers": result["quasi_identifiers"]})
    return result


@dg.asset(partitions_def=data_drops, group_name=GROUP)
def dp_config(context: dg.AssetExecutionContext, config: SynthesisRunConfig, dataset_profile: dict,
              pii_scan: dict, files: ProjectFiles) -> dict:
    """The validated training configuration (public facts only): errors, warnings, recommendation."""
    fields = config.model_dump()
    quality = fields.pop("quality")
    effective, validation = pipeline.resolve_config(dataset_profile, files.schema(), quality=quality, **fields)
    context.add_output_metadata({"is_valid": validation.is_valid, "errors": len(validation.errors),
                                 "warnings": len(validation.warnings), "epsilon": effective.epsilon,
                                 "generator": effective.generator})
    return {"config": effective.as_dict(), "validation": validation.as_dict()}


@dg.asset(partitions_def=data_drops, group_name=GROUP)
def holdout_split(raw_dataset: pd.DataFrame, dp_config: dict) -> np.ndarray:
    """Which rows the audit holds out: each row on its own with probability
    ``holdout_fraction``, drawn from the secret source, fresh for each run. Reads no values
    (only the row count); the mask stays in Dagster's internal storage, never in a report."""
    return draw_holdout(len(raw_dataset), holdout_fraction=dp_config["config"]["holdout_fraction"])


@dg.asset(partitions_def=data_drops, group_name=GROUP, kinds={"pytorch"})
def dp_model(context: dg.AssetExecutionContext, raw_dataset: pd.DataFrame, holdout_split: np.ndarray,
             dp_config: dict, files: ProjectFiles, ledger: LedgerResource) -> dict:
    """DP: the generator fitted on the training split, charged to the ledger before training."""
    config = SynthesisConfig.from_dict(dp_config["config"])
    train, _ = apply_holdout(raw_dataset, holdout_split)
    schema = files.schema()

    def on_epoch(report):
        context.log.info(f"epoch {report.epoch}/{report.epochs}: loss {report.loss:.3f}, "
                         f"ε so far {report.epsilon_so_far:.3f}, {report.rows_per_second:.0f} rows/s")

    result = pipeline.train_release(
        train=train, schema=schema, config=config, ledger=ledger.ledger(),
        run_key=f"{context.run_id}:{context.partition_key}", partition_key=context.partition_key,
        model_dir=files.release_dir(schema.dataset, context.partition_key, context.run_id) / "model",
        drop_rows=len(raw_dataset),
        on_epoch=on_epoch)
    p = result["privacy"]
    facts = {"generator": result["generator"], "differentially_private": result["is_dp"],
             "epsilon_spent": p.get("epsilon_spent"), "delta": p.get("delta"),
             "noise_multiplier": p.get("noise_multiplier"), "steps": p.get("steps"),
             "device": result["training"]["device"], "model_dir": result["model_dir"]}
    context.add_output_metadata({k: v for k, v in facts.items() if v is not None})
    return result


@dg.asset(partitions_def=data_drops, group_name=GROUP, kinds={"parquet", "csv"})
def synthetic_table(context: dg.AssetExecutionContext, dp_model: dict, dp_config: dict) -> pd.DataFrame:
    """Post-processing of the DP model: as many rows as the user asked for, else a DP
    estimate of the training rows (never n), written to the run's ``candidate/`` folder
    (internal until the gates pass; ``released`` writes the release)."""
    config = SynthesisConfig.from_dict(dp_config["config"])
    frame = pipeline.sample_release(dp_model["model_dir"], rows=dp_model["synthetic_rows"], seed=config.seed)
    candidate = pipeline.release_folder(dp_model) / INTERNAL_DIR / "candidate"
    candidate.mkdir(parents=True, exist_ok=True)
    frame.to_parquet(candidate / "synthetic.parquet", index=False)
    frame.to_csv(candidate / "synthetic.csv", index=False)
    context.add_output_metadata({
        "rows": len(frame), "path": dg.MetadataValue.path(str(candidate / "synthetic.csv")),
        "preview (synthetic rows only)": dg.MetadataValue.md(frame.head(5).to_markdown(index=False)),
    })
    return frame


@dg.asset(partitions_def=data_drops, group_name=GROUP)
def audit_metrics(context: dg.AssetExecutionContext, raw_dataset: pd.DataFrame, holdout_split: np.ndarray,
                  synthetic_table: pd.DataFrame, dp_config: dict, dp_model: dict, files: ProjectFiles,
                  config: AuditPolicyConfig) -> dict:
    """Utility, subgroup and privacy-attack metrics against the held-out real split, and the
    release gates' verdicts. Reads private values, not DP; internal, aggregated."""
    release = SynthesisConfig.from_dict(dp_config["config"])
    train, holdout = apply_holdout(raw_dataset, holdout_split)
    schema = schema_with_statistics(files.schema(), dp_model.get("dp_statistics", {}))
    try:
        overrides = {k: v for k, v in config.model_dump().items() if v is not None}
        policy = policy_from_mapping(overrides, source="audit_metrics run config", base=files.policy())
    except PolicyError as exc:
        raise dg.Failure(description=str(exc)) from None
    metrics = run_audit(real_train=train, holdout=holdout, synthetic=synthetic_table, schema=schema,
                        policy=policy, seed=release.seed)
    # The model's release decision is this first audit's; a re-audit never changes it.
    record_decision(metrics, generator=dp_model["generator"], is_dp=bool(dp_model["is_dp"]),
                    folder=pipeline.release_folder(dp_model))
    context.add_output_metadata({g["metric"]: g["value"] for g in metrics["gates"] if g["value"] is not None})
    return metrics


@dg.asset(partitions_def=data_drops, group_name=GROUP, kinds={"json", "markdown", "html"})
def compliance_report(context: dg.AssetExecutionContext, raw_dataset: pd.DataFrame, holdout_split: np.ndarray,
                      synthetic_table: pd.DataFrame,
                      dataset_profile: dict, pii_scan: dict, dp_config: dict, dp_model: dict, audit_metrics: dict,
                      files: ProjectFiles, ledger: LedgerResource) -> dict:
    """Privacy report, compliance mapping, model card, audit narrative and plots of the release.

    Reads private values only for the plots' real side (the holdout's shares over public
    bins, and correlations): not DP, internal review material, labelled so. The rest comes
    from DP metadata, the ledger, the run's events, the aggregated audit and the drop's
    latest empirical privacy audit, when one was run (internal, not DP)."""
    _, holdout = apply_holdout(raw_dataset, holdout_split)
    dataset, privacy_ledger = dataset_profile["dataset"], ledger.ledger()
    events = run_events(context.instance, context.run_id)
    docs = build_documents(
        schema=schema_with_statistics(files.schema(), dp_model.get("dp_statistics", {})), profile=dataset_profile,
        pii=pii_scan, config=dp_config["config"], model=dp_model, audit=audit_metrics,
        ledger_after=privacy_ledger.spend(dataset).as_dict(), ledger_history=privacy_ledger.history(dataset),
        real_holdout=holdout, synthetic=synthetic_table, partition_key=context.partition_key, run_id=context.run_id,
        run_events=events, extra_gates=gate_results(events),
        privacy_audit=latest_privacy_audit(context.instance, context.partition_key),
        source=source_facts(drop_path=files.drop_path(context.partition_key), schema_path=files.path(files.schema_path),
                            secret=files.instance_secret()))
    paths = write_documents(docs, pipeline.release_folder(dp_model))
    statuses = {k: v["status"] for k, v in docs["compliance"]["frameworks"].items()}
    context.add_output_metadata({
        **{k: dg.MetadataValue.path(str(v)) for k, v in paths.items()},
        "privacy_score": docs["privacy_report"]["privacy_score"]["score"],
        "risk_level": docs["privacy_report"]["safety"]["risk_level"],
        "compliance": dg.MetadataValue.md("\n".join(f"- {k}: {v}" for k, v in statuses.items())),
    })
    return {k: str(v) for k, v in paths.items()}


@dg.asset(partitions_def=data_drops, group_name=GROUP, kinds={"csv", "parquet"}, deps=[compliance_report])
def released(context: dg.AssetExecutionContext, synthetic_table: pd.DataFrame, audit_metrics: dict,
             dp_model: dict, dp_config: dict, files: ProjectFiles, ledger: LedgerResource) -> dict:
    """The release: the synthetic table and the public documents (model card, privacy report,
    compliance statement: DP and declared-public facts only) written to the run's ``release/``
    folder, only when the model's recorded decision (its first audit: every audit gate and
    the dp_guarantee gate passed) allows it. The blocking checks stop this asset first; it
    checks the decision again, so no selection and no re-audit can skip them."""
    schema = schema_with_statistics(files.schema(), dp_model.get("dp_statistics", {}))
    public = build_public_documents(schema=schema, config=dp_config["config"], model=dp_model,
                                    ledger_after=ledger.ledger().spend(schema.dataset).as_dict(),
                                    partition_key=context.partition_key, run_id=context.run_id)
    try:
        paths = write_release(synthetic_table, audit_metrics, generator=dp_model["generator"],
                              is_dp=bool(dp_model["is_dp"]), folder=pipeline.release_folder(dp_model),
                              documents=render_public_documents(public))
    except ReleaseRefused as exc:
        raise dg.Failure(description=str(exc)) from None
    context.add_output_metadata({"rows": len(synthetic_table), "path": dg.MetadataValue.path(paths["csv"])})
    return paths
