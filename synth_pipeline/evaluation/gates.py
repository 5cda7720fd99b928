"""Release gates on audit metrics: each a threshold, a verdict and a message that says why."""

from __future__ import annotations

from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class AuditPolicy:
    """Thresholds of the audit gates (defaults for the walking skeleton)."""

    min_tstr_auc_ratio: float = 0.8  # utility floor: TSTR AUC at least 80% of TRTR AUC
    max_dcr_share: float = 0.6  # privacy ceiling: at most 60% of synthetic rows closer to train than holdout
    max_exact_match_share: float = 0.01  # privacy ceiling: copies of training rows


@dataclass(frozen=True)
class GateResult:
    gate: str
    metric: str
    value: float | None
    threshold: float
    passed: bool
    message: str

    def as_dict(self) -> dict:
        return asdict(self)


def _gate(gate: str, metric: str, value, threshold: float, higher_is_better: bool) -> GateResult:
    if value is None:
        return GateResult(gate, metric, None, threshold, False, f"{metric} was not computed: the gate cannot pass")
    passed = value >= threshold if higher_is_better else value <= threshold
    relation = "≥" if higher_is_better else "≤"
    verdict = "passed" if passed else "failed"
    return GateResult(gate, metric, float(value), threshold, passed,
                      f"{metric} = {value:.4g}, must be {relation} {threshold:.4g}: {verdict}")


def evaluate_gates(metrics: dict, policy: AuditPolicy) -> list[GateResult]:
    utility = metrics.get("tstr", {})
    risk = metrics.get("dcr", {})
    return [
        _gate("utility_floor", "tstr_auc_ratio", utility.get("auc_ratio"), policy.min_tstr_auc_ratio, True),
        _gate("dcr_ceiling", "dcr_share", risk.get("dcr_share"), policy.max_dcr_share, False),
        _gate("copy_ceiling", "exact_match_share", risk.get("exact_match_share"), policy.max_exact_match_share, False),
    ]
