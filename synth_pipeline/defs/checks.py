"""Release gates as blocking asset checks: a failure stops everything downstream in the run.

Each check calls one gate of the core (``chain.gates``) and turns its verdict into an
``AssetCheckResult``: counts, names, values and thresholds only, no raw value.
"""

import dagster as dg

from synth_pipeline.chain import gates
from synth_pipeline.chain.results import Drop, Evaluation, PiiReport, ResolvedConfig, TrainedModel, Verdict
from synth_pipeline.defs.assets import audit_metrics, compliance_report, dp_config, pii_scan, raw_dataset
from synth_pipeline.defs.resources import LedgerResource, ProjectFiles
from synth_pipeline.evaluation.gates import GATES, GateSpec


def _result(verdict: Verdict) -> dg.AssetCheckResult:
    metadata = {k: (dg.MetadataValue.md("\n".join(f"- {x}" for x in v) or "none") if isinstance(v, list) else v)
                for k, v in verdict.metadata.items() if v is not None}
    return dg.AssetCheckResult(passed=verdict.passed, metadata=metadata, description=verdict.description)


@dg.asset_check(asset=raw_dataset, blocking=True,
                description="Great Expectations suite from the public schema: columns, types, bounds, categories, nulls")
def raw_data_expectations(raw_dataset: Drop, files: ProjectFiles) -> dg.AssetCheckResult:
    return _result(gates.raw_data_expectations(raw_dataset, files.schema()))


@dg.asset_check(asset=pii_scan, blocking=True, description="No direct identifier among the training columns")
def no_direct_identifiers_in_training(pii_scan: PiiReport) -> dg.AssetCheckResult:
    return _result(gates.no_direct_identifiers_in_training(pii_scan))


@dg.asset_check(asset=dp_config, blocking=True, description="The training configuration is valid")
def config_valid(dp_config: ResolvedConfig) -> dg.AssetCheckResult:
    return _result(gates.config_valid(dp_config))


@dg.asset_check(asset=dp_config, blocking=True, description="The dataset's budget can pay for this run")
def budget_available(dp_config: ResolvedConfig, files: ProjectFiles, ledger: LedgerResource) -> dg.AssetCheckResult:
    return _result(gates.budget_available(dp_config, dataset=files.schema().dataset, ledger=ledger.ledger()))


@dg.asset_check(asset=compliance_report, blocking=True, additional_ins={"dp_model": dg.AssetIn("dp_model")},
                description="The release comes from a DP generator (the non-private twins never pass)")
def dp_guarantee(dp_model: TrainedModel) -> dg.AssetCheckResult:
    return _result(gates.dp_guarantee(dp_model))


def _audit_gate(spec: GateSpec) -> dg.AssetChecksDefinition:
    side = "its one-sided 95% upper bound" if spec.upper is not None else "its point estimate"

    @dg.asset_check(asset=audit_metrics, name=spec.gate, blocking=True,
                    description=f"Release gate on {spec.metric}, {side} against the release policy's "
                                f"{spec.threshold}")
    def _check(audit_metrics: Evaluation) -> dg.AssetCheckResult:
        return _result(next(v for v in audit_metrics.verdicts if v.gate == spec.gate))

    return _check


# One blocking check per threshold of the release policy (evaluation.gates.GATES).
audit_gate_checks = [_audit_gate(spec) for spec in GATES]
