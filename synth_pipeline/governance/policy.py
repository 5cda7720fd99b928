"""The governance policy (``data/governance.yaml``): who must approve a release, the terms a
release carries, and how long each kind of file is kept.

Reads no data: a policy file written by people. Every mistake in it is refused with a
message naming the key to fix, before anything is staged, published or deleted.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from pathlib import Path

import yaml

# Kinds of files the retention schedule deletes, oldest first in the chain. The ledger and the
# governance records (approvals, revocations, deletions) are never deleted: they are the
# evidence of what was spent and decided.
RETENTION_KINDS = {
    "raw_drops": "the private drops in the watched folder and their references in Dagster's state",
    "dagster_copies": "asset values Dagster pickled for each partition (profiles, splits, candidates, models' records)",
    "candidates": "synthetic tables sampled before the gates (internal/candidate/), and staged releases never published",
    "models": "fitted generators (model/): state dicts and their metadata",
    "internal_review": "internal review documents (internal/): gate values, attack results, plots of the real side",
    "released_tables": "published releases (release/): the synthetic table and its public documents",
}


DEFAULT_PATH = "data/governance.yaml"  # the project's policy; absent: the defaults
MAX_EXPIRY_DAYS = 36_500  # a century: terms always end, and the date stays representable


class GovernancePolicyError(ValueError):
    """The governance policy file is wrong; the message names the key to fix."""


@dataclass(frozen=True)
class ApprovalPolicy:
    """How many distinct people must approve a release after its gates passed (0, 1 or 2),
    and who may. With 0 the release is published as soon as the gates pass."""

    required: int = 0
    approvers: tuple[str, ...] = ()

    def may_approve(self, name: str) -> bool:
        return name in self.approvers


@dataclass(frozen=True)
class Terms:
    """The terms of use every release carries (``release/TERMS.md``, the model card)."""

    intended_use: str = ("statistical analysis, software testing and model development on data that resembles "
                         "the source; not decisions about any person")
    forbidden_uses: tuple[str, ...] = (
        "re-identifying, or trying to re-identify, any person in the source data",
        "linking the table with other data to learn about a person of the source data",
        "presenting synthetic rows as real records of people",
        "passing the table on to anyone not named as a recipient")
    recipients: tuple[str, ...] = ()
    expiry_days: float = 365.0
    contact: str = "the data platform team that published this release"
    licence: str = "internal use under these terms only; no other licence is granted"


@dataclass(frozen=True)
class RetentionPolicy:
    """Days each kind of file is kept after its run; None keeps it (no deletion)."""

    days: dict = field(default_factory=dict)  # kind -> days (float) or None

    def days_for(self, kind: str) -> float | None:
        return self.days.get(kind)

    def as_dict(self) -> dict:
        return {kind: self.days.get(kind) for kind in RETENTION_KINDS}


@dataclass(frozen=True)
class GovernancePolicy:
    approval: ApprovalPolicy = ApprovalPolicy()
    terms: Terms = Terms()
    retention: RetentionPolicy = RetentionPolicy()
    source: str = "defaults"

    def as_dict(self) -> dict:
        return {"approval": asdict(self.approval), "terms": asdict(self.terms),
                "retention_days": self.retention.as_dict(), "source": self.source}


def _days(value, *, key: str, source: str) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value <= 0:
        raise GovernancePolicyError(f"{source}: {key} must be a positive number of days or null (keep), got {value!r}")
    return float(value)


def _names(value, *, key: str, source: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        raise GovernancePolicyError(f"{source}: {key} must be a list of non-empty names")
    return tuple(v.strip() for v in value)


def _approval(raw, source: str) -> ApprovalPolicy:
    if not isinstance(raw, dict):
        raise GovernancePolicyError(f"{source}: approval must be a mapping with 'required' and 'approvers'")
    _no_unknown(raw, {"required", "approvers"}, key="approval", source=source)
    required = raw.get("required", 0)
    if isinstance(required, bool) or required not in (0, 1, 2):
        raise GovernancePolicyError(f"{source}: approval.required must be 0, 1 or 2, got {required!r}")
    approvers = _names(raw.get("approvers"), key="approval.approvers", source=source)
    if len(set(approvers)) != len(approvers):
        raise GovernancePolicyError(f"{source}: approval.approvers names someone twice")
    if required > len(approvers):
        raise GovernancePolicyError(
            f"{source}: approval.required is {required} but approval.approvers names {len(approvers)}; "
            "list at least as many approvers as the approvals required")
    return ApprovalPolicy(required=int(required), approvers=approvers)


def _terms(raw, source: str) -> Terms:
    if not isinstance(raw, dict):
        raise GovernancePolicyError(f"{source}: terms must be a mapping")
    known = {f for f in Terms.__dataclass_fields__}
    _no_unknown(raw, known, key="terms", source=source)
    values = {}
    for key in ("intended_use", "contact", "licence"):
        if key in raw:
            if not isinstance(raw[key], str) or not raw[key].strip():
                raise GovernancePolicyError(f"{source}: terms.{key} must be non-empty text")
            values[key] = raw[key].strip()
    for key in ("forbidden_uses", "recipients"):
        if key in raw:
            values[key] = _names(raw[key], key=f"terms.{key}", source=source)
    if "expiry_days" in raw:
        days = _days(raw["expiry_days"], key="terms.expiry_days", source=source)
        if days is None or days > MAX_EXPIRY_DAYS:
            raise GovernancePolicyError(f"{source}: terms.expiry_days must be a number of days up to "
                                        f"{MAX_EXPIRY_DAYS}: a release's terms always end")
        values["expiry_days"] = days
    return Terms(**values)


def _retention(raw, source: str) -> RetentionPolicy:
    if not isinstance(raw, dict):
        raise GovernancePolicyError(f"{source}: retention_days must be a mapping of kinds to days")
    _no_unknown(raw, set(RETENTION_KINDS), key="retention_days", source=source)
    return RetentionPolicy(days={k: _days(v, key=f"retention_days.{k}", source=source) for k, v in raw.items()})


def _no_unknown(raw: dict, known: set[str], *, key: str, source: str) -> None:
    unknown = sorted(set(raw) - known)
    if unknown:
        raise GovernancePolicyError(f"{source}: unknown key(s) {unknown} in {key}; known: {sorted(known)}")


def load_governance(path: str | Path | None, *, required: bool = False) -> GovernancePolicy:
    """The policy in ``path``; the defaults (no approval, the default terms, keep everything)
    when ``path`` is None or does not exist, unless ``required`` (a path a person gave)."""
    if path is None or not Path(path).is_file():
        if required:
            raise GovernancePolicyError(f"no governance policy at {path}")
        return GovernancePolicy()
    source = str(path)
    try:
        raw = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise GovernancePolicyError(f"cannot read the governance policy {source}: {type(exc).__name__}") from None
    if not isinstance(raw, dict):
        raise GovernancePolicyError(f"{source}: the governance policy must be a mapping")
    _no_unknown(raw, {"approval", "terms", "retention_days"}, key="the policy", source=source)
    return GovernancePolicy(approval=_approval(raw.get("approval", {}), source),
                            terms=_terms(raw.get("terms", {}), source),
                            retention=_retention(raw.get("retention_days", {}), source), source=source)
