"""Release gates as blocking asset checks: a failure stops everything downstream in the run.

Each check returns counts, names and thresholds only; no raw value reaches its metadata.
"""


import dagster as dg
import pandas as pd

from synth_pipeline.defs.assets import audit_metrics, compliance_report, dp_config, pii_scan, raw_dataset
from synth_pipeline.defs.resources import LedgerResource, ProjectFiles
from synth_pipeline.evaluation.gates import GATES, GateSpec
from synth_pipeline.pii import pii_problems
from synth_pipeline.pipeline import ledger_request
from synth_pipeline.privacy.config import NON_PRIVATE_GENERATORS, SynthesisConfig, TrainingPlan
from synth_pipeline.quality.expectations import validate_raw


def _bullets(lines: list[str]) -> dg.MetadataValue:
    return dg.MetadataValue.md("\n".join(f"- {line}" for line in lines) or "none")


@dg.asset_check(asset=raw_dataset, blocking=True,
                description="Great Expectations suite from the public schema: columns, types, bounds, categories, nulls")
def raw_data_expectations(raw_dataset: pd.DataFrame, files: ProjectFiles) -> dg.AssetCheckResult:
    report = validate_raw(raw_dataset, files.schema())
    summary = report.summary()
    return dg.AssetCheckResult(
        passed=report.success,
        metadata={"expectations": summary["expectations"], "failed_expectations": summary["failed_expectations"],
                  "problems": _bullets(summary["problems"])},
        description="; ".join(summary["problems"]) or "the drop matches its schema",
    )


@dg.asset_check(asset=pii_scan, blocking=True, description="No direct identifier among the training columns")
def no_direct_identifiers_in_training(pii_scan: dict) -> dg.AssetCheckResult:
    problems = pii_problems(pii_scan)
    return dg.AssetCheckResult(
        passed=not problems,
        metadata={"flagged_columns": pii_scan["identifiers_in_training_columns"],
                  "dropped_before_training": pii_scan["dropped_before_training"], "problems": _bullets(problems)},
        description="; ".join(problems) or "declared direct identifiers are dropped; none found among the rest",
    )


@dg.asset_check(asset=dp_config, blocking=True, description="The training configuration is valid")
def config_valid(dp_config: dict) -> dg.AssetCheckResult:
    validation = dp_config["validation"]
    return dg.AssetCheckResult(
        passed=bool(validation["is_valid"]),
        metadata={"errors": _bullets(validation["errors"]), "warnings": _bullets(validation["warnings"]),
                  "privacy_level": validation["privacy_level"] or "n/a"},
        description="; ".join(validation["errors"]) or "valid",
    )


@dg.asset_check(asset=dp_config, blocking=True, description="The dataset's budget can pay for this run")
def budget_available(dp_config: dict, files: ProjectFiles, ledger: LedgerResource) -> dg.AssetCheckResult:
    validation = dp_config["validation"]
    if not validation["is_valid"] or validation["plan"] is None:
        return dg.AssetCheckResult(passed=False, description="no valid plan to price: fix the config first")
    config = SynthesisConfig.from_dict(dp_config["config"])
    if config.generator in NON_PRIVATE_GENERATORS:
        return dg.AssetCheckResult(passed=True, description=f"{config.generator} is not DP: it charges nothing, and "
                                   "the dp_guarantee gate keeps its output from release")
    request = ledger_request(config, TrainingPlan(**validation["plan"]))
    dataset = files.schema().dataset
    privacy_ledger = ledger.ledger()
    refusal = privacy_ledger.check(dataset=dataset, **request)
    spend = privacy_ledger.spend(dataset)
    return dg.AssetCheckResult(
        passed=refusal is None,
        metadata={"requested_epsilon": request["epsilon"], "spent_epsilon": spend.spent_epsilon,
                  "remaining_epsilon": spend.remaining_epsilon, "budget_epsilon": spend.budget.epsilon},
        description=refusal or f"fits: ε={request['epsilon']:.3g} of {spend.remaining_epsilon:.3g} left",
    )


@dg.asset_check(asset=compliance_report, blocking=True, additional_ins={"dp_model": dg.AssetIn("dp_model")},
                description="The release comes from a DP generator (the non-private twins never pass)")
def dp_guarantee(dp_model: dict) -> dg.AssetCheckResult:
    passed = bool(dp_model["is_dp"])
    return dg.AssetCheckResult(
        passed=passed, metadata={"generator": dp_model["generator"]},
        description=(f"{dp_model['generator']} is differentially private" if passed else
                     f"{dp_model['generator']} is NOT differentially private: a comparison baseline, never released"))


def _audit_gate(spec: GateSpec) -> dg.AssetChecksDefinition:
    @dg.asset_check(asset=audit_metrics, name=spec.gate, blocking=True,
                    description=f"Release gate on {spec.metric} (threshold {spec.threshold} of the release policy)")
    def _check(audit_metrics: dict) -> dg.AssetCheckResult:
        result = next(g for g in audit_metrics["gates"] if g["gate"] == spec.gate)
        return dg.AssetCheckResult(
            passed=bool(result["passed"]),
            metadata={"metric": spec.metric, "value": result["value"], "threshold": result["threshold"]},
            description=result["message"],
        )

    return _check


# One blocking check per threshold of the release policy (evaluation.gates.GATES).
audit_gate_checks = [_audit_gate(spec) for spec in GATES]

all_checks = [raw_data_expectations, no_direct_identifiers_in_training, config_valid, budget_available,
              *audit_gate_checks, dp_guarantee]
