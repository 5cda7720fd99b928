"""The release gates, one function each, shared by the Dagster checks and the CLI.

Each returns a ``Verdict`` with names, counts, values and thresholds only: no raw value
reaches a gate's description or metadata (docs/privacy.md, invariant 5). Gates decide on
non-DP numbers of the raw rows; the release says so.
"""

from __future__ import annotations

from synth_pipeline.chain.results import Drop, PiiReport, ResolvedConfig, TrainedModel, Verdict
from synth_pipeline.chain.training import ledger_request
from synth_pipeline.expectations import validate_raw
from synth_pipeline.pii import pii_problems
from synth_pipeline.privacy.ledger import PrivacyLedger
from synth_pipeline.schema import TableSchema
from synth_pipeline.synthesizers.registry import generator_info

class GateFailed(RuntimeError):
    """A blocking gate failed: nothing downstream ran, nothing public was written."""

    def __init__(self, verdict: Verdict):
        self.verdict = verdict
        super().__init__(describe(verdict))


def describe(verdict: Verdict) -> str:
    """'gate X failed: why'. Every gate with a value and a threshold already states both in
    its description (the audit gates' messages, the budget's ε asked and left)."""
    return f"gate {verdict.gate} {'passed' if verdict.passed else 'failed'}: {verdict.description}"


def raw_data_expectations(drop: Drop, schema: TableSchema) -> Verdict:
    """The drop against its public schema (``expectations.validate_raw``, the same check as
    ``synth-pipeline schema check``). Reads private values, not DP; each problem is one plain
    line of column, what was expected, a row count and what to change, never a value."""
    report = validate_raw(drop.frame, schema)
    summary = report.summary()
    return Verdict(gate="raw_data_expectations", passed=report.success,
                   description="; ".join(summary["problems"]) or "the drop matches its schema",
                   metadata={"expectations": summary["expectations"],
                             "failed_expectations": summary["failed_expectations"],
                             "problems": list(summary["problems"])})


def no_direct_identifiers_in_training(pii: PiiReport) -> Verdict:
    problems = pii_problems(pii.as_dict())
    return Verdict(gate="no_direct_identifiers_in_training", passed=not problems,
                   description="; ".join(problems) or "declared direct identifiers are dropped; none found among the rest",
                   metadata={"flagged_columns": list(pii.identifiers_in_training_columns),
                             "dropped_before_training": list(pii.dropped_before_training), "problems": problems})


def config_valid(resolved: ResolvedConfig) -> Verdict:
    v = resolved.validation
    return Verdict(gate="config_valid", passed=bool(v.is_valid), description="; ".join(v.errors) or "valid",
                   metadata={"errors": list(v.errors), "warnings": list(v.warnings),
                             "privacy_level": v.privacy_level or "n/a"})


def budget_available(resolved: ResolvedConfig, *, dataset: str, ledger: PrivacyLedger) -> Verdict:
    """Prices the plan the training stage will reserve; writes nothing to the ledger."""
    if not resolved.is_valid or resolved.plan is None:
        return Verdict(gate="budget_available", passed=False, description="no valid plan to price: fix the config first")
    if not generator_info(resolved.config.generator).is_dp:
        return Verdict(gate="budget_available", passed=True,
                       description=f"{resolved.config.generator} is not DP: it charges nothing, and the dp_guarantee "
                                   "gate keeps its output from release")
    request = ledger_request(resolved.config, resolved.plan)
    why = ledger.check(dataset=dataset, **request)
    spend = ledger.spend(dataset)
    return Verdict(gate="budget_available", passed=why is None, value=request["epsilon"],
                   threshold=spend.remaining_epsilon,
                   description=why or f"fits: ε={request['epsilon']:.3g} of {spend.remaining_epsilon:.3g} left",
                   metadata={"requested_epsilon": request["epsilon"], "spent_epsilon": spend.spent_epsilon,
                             "remaining_epsilon": spend.remaining_epsilon, "budget_epsilon": spend.budget.epsilon})


def audit_verdicts(metrics: dict) -> tuple[Verdict, ...]:
    """One verdict per audit gate of the release policy, from the evaluation's gate results."""
    return tuple(Verdict(gate=g["gate"], passed=bool(g["passed"]), description=g["message"], value=g["value"],
                         threshold=g["threshold"],
                         metadata={"metric": g["metric"], "value": g["value"], "threshold": g["threshold"],
                                   "compared": g.get("compared"), "side": g.get("side", "point")})
                 for g in metrics["gates"])


def dp_guarantee(model: TrainedModel) -> Verdict:
    return Verdict(gate="dp_guarantee", passed=model.is_dp, metadata={"generator": model.generator},
                   description=(f"{model.generator} is differentially private" if model.is_dp else
                                f"{model.generator} is NOT differentially private: a comparison baseline, never "
                                "released"))
