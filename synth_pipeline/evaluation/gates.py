"""Release gates on audit metrics: each a threshold, a verdict and a message that says why.

The thresholds are the release policy (``data/release_policy.yaml``); ``AuditPolicy()``
holds the same values, so that the core runs without the file (a test keeps them equal).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields
from pathlib import Path

import yaml


@dataclass(frozen=True)
class AuditPolicy:
    """Thresholds of the audit gates: ``min_*`` are floors, ``max_*`` ceilings."""

    # utility
    min_quality_score: float = 0.85
    min_column_pair_trends: float = 0.85
    min_association_retention: float = 0.1
    max_detection_auc: float = 0.75
    min_tstr_auc_ratio: float = 0.8
    min_logistic_tstr_auc_ratio: float = 0.8
    # rare events and subgroups
    min_category_coverage: float = 0.6
    max_subgroup_marginal_error: float = 0.3
    # privacy
    max_dcr_share: float = 0.6
    max_exact_match_share: float = 0.01
    min_nndr_median: float = 0.5
    max_membership_auc: float = 0.6
    max_attribute_inference_advantage: float = 0.05
    max_singling_out_risk: float = 0.1
    max_linkability_risk: float = 0.1
    max_inference_risk: float = 0.1


@dataclass(frozen=True)
class GateSpec:
    """``upper``: where the metric's one-sided 95% upper confidence bound sits, for the
    attack ceilings that have one; the gate then compares that bound (the release must show,
    with 95% confidence, that the risk is below the ceiling), not the point estimate, which
    flips between runs when it sits near the threshold."""

    gate: str
    metric: str
    path: tuple[str, ...]  # where the value sits in the audit metrics dict
    threshold: str  # the AuditPolicy field
    upper: tuple[str, ...] | None = None  # path to the one-sided upper confidence bound


GATES: tuple[GateSpec, ...] = (
    GateSpec("quality_floor", "quality_score", ("quality", "quality_score"), "min_quality_score"),
    GateSpec("pair_trends_floor", "column_pair_trends", ("quality", "column_pair_trends"), "min_column_pair_trends"),
    GateSpec("association_floor", "association_retention", ("associations", "retention"), "min_association_retention"),
    GateSpec("detection_ceiling", "detection_auc", ("detection", "auc"), "max_detection_auc"),
    GateSpec("utility_floor", "tstr_auc_ratio", ("tstr", "auc_ratio"), "min_tstr_auc_ratio"),
    GateSpec("logistic_utility_floor", "logistic_tstr_auc_ratio", ("tstr", "logistic_auc_ratio"),
             "min_logistic_tstr_auc_ratio"),
    GateSpec("category_coverage_floor", "category_coverage_min", ("coverage", "min"), "min_category_coverage"),
    GateSpec("subgroup_error_ceiling", "subgroup_marginal_error", ("subgroups", "max_marginal_error"),
             "max_subgroup_marginal_error"),
    GateSpec("dcr_ceiling", "dcr_share", ("dcr", "dcr_share"), "max_dcr_share", ("dcr", "dcr_share_upper")),
    GateSpec("copy_ceiling", "exact_match_share", ("dcr", "exact_match_share"), "max_exact_match_share"),
    GateSpec("nndr_floor", "nndr_median", ("dcr", "nndr_median"), "min_nndr_median"),
    GateSpec("membership_inference_ceiling", "membership_auc", ("membership", "auc"), "max_membership_auc",
             ("membership", "auc_upper")),
    GateSpec("attribute_inference_ceiling", "attribute_inference_advantage", ("attribute_inference", "max_advantage"),
             "max_attribute_inference_advantage", ("attribute_inference", "max_advantage_upper")),
    GateSpec("singling_out_ceiling", "singling_out_risk", ("singling_out", "risk"), "max_singling_out_risk",
             ("singling_out", "upper")),
    GateSpec("linkability_ceiling", "linkability_risk", ("linkability", "risk"), "max_linkability_risk",
             ("linkability", "upper")),
    GateSpec("inference_ceiling", "inference_risk", ("inference", "risk"), "max_inference_risk",
             ("inference", "risk_upper")),
)


class PolicyError(ValueError):
    """The release policy file is wrong; the message names the key to fix."""


def load_policy(path: str | Path) -> AuditPolicy:
    """Read a release policy: a mapping of threshold names to numbers; missing names keep
    the defaults of ``AuditPolicy``. Unknown names and non-numbers are refused."""
    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise PolicyError(f"cannot read the release policy {path}: {type(exc).__name__}") from None
    if isinstance(raw, dict) and "compared" in raw:
        check_compared_sides(raw["compared"], source=str(path))
    return policy_from_mapping(raw.get("thresholds", raw) if isinstance(raw, dict) else raw, source=str(path))


def compared_sides() -> dict[str, str]:
    """Per threshold, what its gate compares: ``upper_bound`` (the upper end of the 95%
    interval: the attack ceilings that have one) or ``point`` (the estimate itself)."""
    return {spec.threshold: "upper_bound" if spec.upper is not None else "point" for spec in GATES}


def check_compared_sides(declared, *, source: str) -> None:
    """The policy file's ``compared`` section states the sides for its readers; it must say
    what the code does (the sides are part of the gates' definition, not a setting)."""
    if not isinstance(declared, dict) or declared != compared_sides():
        wrong = sorted(k for k, v in compared_sides().items() if not isinstance(declared, dict)
                       or declared.get(k) != v)
        raise PolicyError(f"{source}: the 'compared' section must state what each gate compares; these entries "
                          f"differ from the gates' definition: {wrong or sorted(set(declared) - set(compared_sides()))}")


def policy_from_mapping(raw, *, source: str = "policy", base: AuditPolicy | None = None) -> AuditPolicy:
    known = {f.name for f in fields(AuditPolicy)}
    if not isinstance(raw, dict):
        raise PolicyError(f"{source}: thresholds must be a mapping of names to numbers")
    unknown = sorted(set(raw) - known)
    if unknown:
        raise PolicyError(f"{source}: unknown threshold(s) {unknown}; known: {sorted(known)}")
    for key, value in raw.items():
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise PolicyError(f"{source}: threshold {key!r} must be a finite number, got {value!r}")
    values = {**asdict(base or AuditPolicy()), **{k: float(v) for k, v in raw.items()}}
    return AuditPolicy(**values)


@dataclass(frozen=True)
class GateResult:
    """``value`` is the point estimate; ``compared`` what the threshold was held against
    (the upper confidence bound for the attack ceilings that have one, else the value)."""

    gate: str
    metric: str
    value: float | None
    threshold: float
    passed: bool
    message: str
    compared: float | None = None
    side: str = "point"  # "point" or "upper 95% bound"

    def as_dict(self) -> dict:
        return asdict(self)


def _lookup(metrics: dict, path: tuple[str, ...]):
    value = metrics
    for key in path:
        if not isinstance(value, dict) or key not in value:
            return None
        value = value[key]
    return value


def _gate(spec: GateSpec, metrics: dict, threshold: float) -> GateResult:
    section = metrics.get(spec.path[0])
    if isinstance(section, dict) and "skipped" in section:
        return GateResult(spec.gate, spec.metric, None, threshold, True,
                          f"{spec.metric} does not apply: {section['skipped']}")
    value = _lookup(metrics, spec.path)
    if value is None or (isinstance(value, float) and math.isnan(value)):
        why = section["error"] if isinstance(section, dict) and "error" in section else "no value"
        return GateResult(spec.gate, spec.metric, None, threshold, False,
                          f"{spec.metric} was not computed ({why}): the gate cannot pass")
    higher_is_better = spec.threshold.startswith("min_")
    compared, side, what = float(value), "point", ""
    if spec.upper is not None:
        bound = _lookup(metrics, spec.upper)
        if bound is None or (isinstance(bound, float) and math.isnan(bound)):
            return GateResult(spec.gate, spec.metric, float(value), threshold, False,
                              f"{spec.metric} has no confidence interval: the gate cannot pass")
        compared, side = max(float(bound), float(value)), UPPER_SIDE
        what = f" (upper 95% bound {compared:.4g})"
    passed = compared >= threshold if higher_is_better else compared <= threshold
    relation = "≥" if higher_is_better else "≤"
    verdict = "passed" if passed else "failed"
    subject = "its upper 95% bound" if side == UPPER_SIDE else spec.metric
    return GateResult(spec.gate, spec.metric, float(value), threshold, passed,
                      f"{spec.metric} = {value:.4g}{what}, {subject} must be {relation} {threshold:.4g}: {verdict}",
                      compared=compared, side=side)


UPPER_SIDE = "upper 95% bound"


def evaluate_gates(metrics: dict, policy: AuditPolicy) -> list[GateResult]:
    """One verdict per gate of ``GATES``, in that order. A metric that was not computed fails
    its gate; a section the schema makes moot (``{"skipped": why}``, e.g. no label) passes it."""
    return [_gate(spec, metrics, getattr(policy, spec.threshold)) for spec in GATES]
