"""The asset chain, one data drop per partition. Each asset calls one stage of the core's
``ReleaseChain`` and adds only Dagster's metadata (counts, names, DP facts: never a raw value)."""

from dataclasses import fields

import dagster as dg
from pydantic import create_model

from synth_pipeline.chain.results import (
    Documents, Drop, Evaluation, PiiReport, Profile, ResolvedConfig, Split, SyntheticTable, TrainedModel)
from synth_pipeline.data_io import DropReadError
from synth_pipeline.defs.partitions import data_drops
from synth_pipeline.defs.resources import LedgerResource, ProjectFiles, training_pool
from synth_pipeline.defs.run_events import gate_results, latest_privacy_audit, run_events
from synth_pipeline.evaluation.gates import AuditPolicy, PolicyError, policy_from_mapping
from synth_pipeline.evaluation.release import ReleaseRefused
from synth_pipeline.privacy.config import settable_fields
from synth_pipeline.schema import SchemaError

GROUP = "synthesis"

# The run config of a release, derived from the config's one declaration (settable_fields):
# empty fields take the recommendation for this table and ε.
SynthesisRunConfig = create_model(
    "SynthesisRunConfig", __base__=dg.Config,
    __doc__="Settings of one release; empty fields take the recommended values (the generator expected to do "
            "best for this table and ε: aim, mst or dp-tvae). `preset`: privacy, balanced or utility.",
    preset=(str, "balanced"),
    **{f.name: (f.type | None, f.default) for f in settable_fields()})

# One optional field per threshold of the release policy (names as in the file): a run may
# override any of them; unset fields keep the file's value.
AuditPolicyConfig = create_model(
    "AuditPolicyConfig", __base__=dg.Config, __doc__="Per-run overrides of the release policy's thresholds.",
    **{f.name: (float | None, None) for f in fields(AuditPolicy)})


def _chain(context: dg.AssetExecutionContext, files: ProjectFiles, ledger: LedgerResource):
    # Progress goes to the core's Python loggers, which dagster.yaml hands to the run log
    # (python_logs.managed_python_loggers): one path for the stages and the rounds inside them.
    # Threads: the cores shared among the runs the instance lets run at once (dagster.yaml).
    queue = context.instance.get_concurrency_config().run_queue_config
    return files.chain(ledger, concurrent_runs=(queue.max_concurrent_runs if queue else None) or 1)


@dg.asset(partitions_def=data_drops, group_name=GROUP, kinds={"pandas"}, io_manager_key="drop_io_manager")
def raw_dataset(context: dg.AssetExecutionContext, files: ProjectFiles, ledger: LedgerResource) -> Drop:
    """The drop as read, typed by the public schema. Reads private values (input); stored as a
    reference to the file, never copied into Dagster's storage."""
    try:
        drop = _chain(context, files, ledger).read(files.drop_path(context.partition_key))
    except (DropReadError, SchemaError) as exc:
        raise dg.Failure(description=str(exc)) from None
    context.add_output_metadata({"rows": len(drop.frame), "columns": len(drop.frame.columns),
                                 "file": context.partition_key})
    return drop


@dg.asset(partitions_def=data_drops, group_name=GROUP)
def dataset_profile(context: dg.AssetExecutionContext, raw_dataset: Drop, files: ProjectFiles,
                    ledger: LedgerResource) -> Profile:
    """Shapes and types from the public schema; n (private, internal) feeds input checks only."""
    profile = _chain(context, files, ledger).profile(raw_dataset)
    context.add_output_metadata({"rows": profile.n_rows, "modelled_columns": len(profile.modelled_columns),
                                 "direct_identifiers": len(profile.direct_identifiers)})
    return profile


@dg.asset(partitions_def=data_drops, group_name=GROUP)
def pii_scan(context: dg.AssetExecutionContext, raw_dataset: Drop, dataset_profile: Profile, files: ProjectFiles,
             ledger: LedgerResource) -> PiiReport:
    """Direct and quasi-identifiers; reads a sample of values, not DP, gate only."""
    pii = _chain(context, files, ledger).scan_pii(raw_dataset)
    context.add_output_metadata({"dropped_before_training": list(pii.dropped_before_training),
                                 "findings": len(pii.findings), "quasi_identifiers": list(pii.quasi_identifiers)})
    return pii


@dg.asset(partitions_def=data_drops, group_name=GROUP)
def dp_config(context: dg.AssetExecutionContext, config: SynthesisRunConfig, dataset_profile: Profile,
              pii_scan: PiiReport, files: ProjectFiles, ledger: LedgerResource) -> ResolvedConfig:
    """The validated training configuration (public facts only): errors, warnings, recommendation."""
    given = config.model_dump()
    resolved = _chain(context, files, ledger).resolve(dataset_profile, **given)
    context.add_output_metadata({"is_valid": resolved.is_valid, "errors": len(resolved.validation.errors),
                                 "warnings": len(resolved.validation.warnings), "epsilon": resolved.config.epsilon,
                                 "generator": resolved.config.generator})
    return resolved


@dg.asset(partitions_def=data_drops, group_name=GROUP)
def holdout_split(context: dg.AssetExecutionContext, raw_dataset: Drop, dp_config: ResolvedConfig,
                  files: ProjectFiles, ledger: LedgerResource) -> Split:
    """Which rows the evaluation holds out: each row (each person, with a privacy unit) on its
    own secret coin, fresh for each run. Reads no modelled value (the row count, and the unit
    column to keep a person's rows together); the mask stays internal, never in a report."""
    return _chain(context, files, ledger).split(raw_dataset, dp_config)


@dg.asset(partitions_def=data_drops, group_name=GROUP, kinds={"pytorch"}, pool=training_pool())
def dp_model(context: dg.AssetExecutionContext, raw_dataset: Drop, holdout_split: Split, dp_config: ResolvedConfig,
             files: ProjectFiles, ledger: LedgerResource) -> TrainedModel:
    """DP: the generator fitted on the training split, charged to the ledger before training.
    One release of a dataset trains at a time (the dataset's concurrency pool)."""
    model = _chain(context, files, ledger).train(
        raw_dataset, holdout_split, dp_config, run_key=f"{context.run_id}:{context.partition_key}",
        partition_key=context.partition_key, run_id=context.run_id)
    p = model.privacy
    facts = {"generator": model.generator, "differentially_private": model.is_dp,
             "epsilon_spent": p.get("epsilon_spent"), "delta": p.get("delta"),
             "privacy_unit": p.get("unit") or "one row", "noise_multiplier": p.get("noise_multiplier"), "steps": p.get("steps"),
             "device": model.training.get("device"), "model_dir": str(model.model_dir)}
    context.add_output_metadata({k: v for k, v in facts.items() if v is not None})
    return model


@dg.asset(partitions_def=data_drops, group_name=GROUP, kinds={"parquet", "csv"})
def synthetic_table(context: dg.AssetExecutionContext, dp_model: TrainedModel, dp_config: ResolvedConfig,
                    files: ProjectFiles, ledger: LedgerResource) -> SyntheticTable:
    """Post-processing of the DP model, written to the run's ``internal/candidate/`` folder
    (internal until the gates pass; ``released`` writes the release)."""
    synthetic = _chain(context, files, ledger).sample(dp_model, dp_config)
    context.add_output_metadata({
        "rows": len(synthetic.frame), "path": dg.MetadataValue.path(str(synthetic.csv)),
        "preview (synthetic rows only)": dg.MetadataValue.md(synthetic.frame.head(5).to_markdown(index=False)),
    })
    return synthetic


@dg.asset(partitions_def=data_drops, group_name=GROUP)
def audit_metrics(context: dg.AssetExecutionContext, raw_dataset: Drop, holdout_split: Split,
                  synthetic_table: SyntheticTable, dp_config: ResolvedConfig, dp_model: TrainedModel,
                  files: ProjectFiles, ledger: LedgerResource, config: AuditPolicyConfig) -> Evaluation:
    """Utility, subgroup and privacy-attack metrics against the held-out real split, and the
    release gates' verdicts. Reads private values, not DP; internal, aggregated."""
    try:
        overrides = {k: v for k, v in config.model_dump().items() if v is not None}
        policy = policy_from_mapping(overrides, source="audit_metrics run config", base=files.policy())
    except PolicyError as exc:
        raise dg.Failure(description=str(exc)) from None
    evaluation = _chain(context, files, ledger).evaluate(raw_dataset, holdout_split, synthetic_table, dp_model,
                                                          dp_config, policy=policy, run_id=context.run_id,
                                                          partition_key=context.partition_key)
    context.add_output_metadata({v.gate: v.value for v in evaluation.verdicts if v.value is not None})
    return evaluation


@dg.asset(partitions_def=data_drops, group_name=GROUP, kinds={"json", "markdown", "html"})
def compliance_report(context: dg.AssetExecutionContext, raw_dataset: Drop, holdout_split: Split,
                      synthetic_table: SyntheticTable, dataset_profile: Profile, pii_scan: PiiReport,
                      dp_config: ResolvedConfig, dp_model: TrainedModel, audit_metrics: Evaluation,
                      files: ProjectFiles, ledger: LedgerResource) -> Documents:
    """Privacy report, compliance mapping, model card, audit narrative and plots (internal).

    Reads private values only for the plots' real side (not DP, internal, labelled so); the
    rest from DP metadata, the ledger, the run's events, the aggregated evaluation and the
    drop's latest empirical privacy audit, when one was run (internal, not DP)."""
    from synth_pipeline.chain.results import Verdict

    events = run_events(context.instance, context.run_id)
    documents = _chain(context, files, ledger).document(
        drop=raw_dataset, split=holdout_split, profile=dataset_profile, pii=pii_scan, resolved=dp_config,
        model=dp_model, synthetic=synthetic_table, evaluation=audit_metrics, partition_key=context.partition_key,
        run_id=context.run_id, run_events=events,
        verdicts=[Verdict(gate=g["gate"], passed=g["passed"], description="") for g in gate_results(events)],
        privacy_audit=latest_privacy_audit(context.instance, context.partition_key))
    context.add_output_metadata({
        **{k: dg.MetadataValue.path(str(v)) for k, v in documents.paths.items()},
        "privacy_score": documents.privacy_score, "risk_level": documents.risk_level,
        "compliance": dg.MetadataValue.md("\n".join(f"- {k}: {v}" for k, v in documents.compliance.items())),
    })
    return documents


@dg.asset(partitions_def=data_drops, group_name=GROUP, kinds={"csv", "parquet"}, deps=[compliance_report],
          output_required=False,
          automation_condition=dg.AutomationCondition.eager() & dg.AutomationCondition.all_deps_blocking_checks_passed())
def released(context: dg.AssetExecutionContext, synthetic_table: SyntheticTable, audit_metrics: Evaluation,
             dp_model: TrainedModel, dp_config: ResolvedConfig, files: ProjectFiles, ledger: LedgerResource):
    """The release: the synthetic table and the public documents (DP and declared-public facts
    only), staged when the model's recorded decision (its first evaluation: every audit gate
    and the dp_guarantee gate passed) allows it, and published to the run's ``release/``
    folder with its terms once the approvals of the governance policy are recorded. With
    none required it materializes in this run; otherwise it records an observation ("awaiting
    approval") and materializes in the ``approve_release`` run that completes the approvals.
    The blocking checks stop this asset first; it checks the decision again, so no selection
    and no re-evaluation can skip them."""
    try:
        release = _chain(context, files, ledger).release(synthetic=synthetic_table, evaluation=audit_metrics,
                                                          model=dp_model, resolved=dp_config,
                                                          partition_key=context.partition_key, run_id=context.run_id)
    except ReleaseRefused as exc:
        raise dg.Failure(description=str(exc)) from None
    if not release.published:
        context.log_event(dg.AssetObservation(
            asset_key=context.asset_key, partition=context.partition_key,
            metadata={"status": release.status, "approvals_required": release.approvals_required,
                      "release_id": release.release_id,
                      "approve": f"synth-pipeline approve {release.release_id.rsplit('/', 1)[-1]} --by NAME "
                                 "(or the approve_release job)"}))
        return
    yield dg.Output(release, metadata={"rows": release.rows, "path": dg.MetadataValue.path(str(release.csv)),
                                       "release_id": release.release_id, "approvals_required": release.approvals_required})
