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

AUDIT_METRICS = audit_metrics.key


def _result(verdict: Verdict, **names) -> dg.AssetCheckResult:
    """``names``: check_name and asset_key, where one step yields several checks."""
    metadata = {k: (dg.MetadataValue.md("\n".join(f"- {x}" for x in v) or "none") if isinstance(v, list) else v)
                for k, v in verdict.metadata.items() if v is not None}
    return dg.AssetCheckResult(passed=verdict.passed, metadata=metadata, description=verdict.description, **names)


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


def _gate_description(spec: GateSpec) -> str:
    side = "its one-sided 95% upper bound" if spec.upper is not None else "its point estimate"
    return f"Release gate on {spec.metric}, {side} against the release policy's {spec.threshold}"


# One blocking check per threshold of the release policy (evaluation.gates.GATES), all in one
# step: the verdicts are already computed by audit_metrics, and under the multiprocess executor
# a step per gate cost a process start each (5 to 11 s apiece on 2 cores under spawn). The step
# yields every selected verdict, then fails if a blocking one failed, so nothing downstream runs.
# One gate can still be run alone from the UI (can_subset).
@dg.multi_asset_check(specs=[dg.AssetCheckSpec(spec.gate, asset=audit_metrics, blocking=True,
                                               description=_gate_description(spec)) for spec in GATES],
                      can_subset=True, description="Release gates on the audit's metrics (one check per threshold)")
def audit_gates(context: dg.AssetCheckExecutionContext, audit_metrics: Evaluation):
    verdicts = {v.gate: v for v in audit_metrics.verdicts}
    selected = {key.name for key in context.selected_asset_check_keys}
    for gate in [spec.gate for spec in GATES if spec.gate in selected]:
        # A verdict missing from an audit stored before this gate existed fails that gate alone.
        verdict = verdicts.get(gate) or Verdict(gate=gate, passed=False,
                                                description=f"the stored audit has no verdict for {gate}: audit again")
        yield _result(verdict, check_name=gate, asset_key=AUDIT_METRICS)
