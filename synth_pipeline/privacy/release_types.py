"""Release types: per-dataset kinds of release (quarterly, ad hoc, vendor test, …), each with
its own per-release cap and a cumulative cap over a rolling window, on top of the dataset's
budget. Declared in a budget policy file (``data/budgets.yaml``) that the ledger records.

Reads no data. The caps are policy, not DP: the dataset's budget still composes every
release of every type over its whole life (the ledger enforces both).
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import asdict, dataclass
from pathlib import Path

import yaml


class BudgetPolicyError(ValueError):
    """The budget policy file is wrong; the message names the key to fix. Nothing was changed."""


@dataclass(frozen=True)
class ReleaseType:
    name: str
    per_release_epsilon: float | None = None  # the most one release of this type may spend
    window_days: float | None = None  # the window of the cumulative cap (None: the dataset's whole life)
    window_epsilon: float | None = None  # what this type's releases may spend together inside the window
    window_releases: int | None = None  # how many releases of this type the window holds


@dataclass(frozen=True)
class ReleaseTypes:
    """A dataset's release types and the one a run without a type counts as (None: it must name one)."""

    types: tuple[ReleaseType, ...] = ()
    default: str | None = None

    def get(self, name: str) -> ReleaseType | None:
        return next((t for t in self.types if t.name == name), None)

    @property
    def names(self) -> list[str]:
        return [t.name for t in self.types]

    def to_json(self) -> str | None:
        if not self.types:
            return None
        return json.dumps({"default": self.default, "types": [asdict(t) for t in self.types]}, sort_keys=True)

    @classmethod
    def from_json(cls, text: str | None) -> "ReleaseTypes":
        if not text:
            return cls()
        raw = json.loads(text)
        return cls(types=tuple(ReleaseType(**t) for t in raw["types"]), default=raw.get("default"))


def _number(value, *, key: str, source: str, optional: bool = True) -> float | None:
    if value is None and optional:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value <= 0:
        raise BudgetPolicyError(f"{source}: {key} must be a positive number{' or absent' if optional else ''}, "
                                f"got {value!r}")
    return float(value)


def _release_types(raw, *, dataset: str, source: str) -> ReleaseTypes:
    if raw is None:
        return ReleaseTypes()
    if not isinstance(raw, dict) or not raw:
        raise BudgetPolicyError(f"{source}: {dataset}.release_types must map type names to their caps")
    types = []
    for name, caps in raw.items():
        key = f"{dataset}.release_types.{name}"
        if not isinstance(name, str) or not name.strip():
            raise BudgetPolicyError(f"{source}: a release type of {dataset} has an empty name")
        caps = caps or {}
        unknown = sorted(set(caps) - {"per_release_epsilon", "window_days", "window_epsilon", "window_releases"})
        if unknown:
            raise BudgetPolicyError(f"{source}: unknown key(s) {unknown} in {key}; known: per_release_epsilon, "
                                    "window_days, window_epsilon, window_releases")
        count = caps.get("window_releases")
        if count is not None and (isinstance(count, bool) or not isinstance(count, int) or count < 1):
            raise BudgetPolicyError(f"{source}: {key}.window_releases must be a whole number of releases ≥ 1, "
                                    f"got {count!r}")
        t = ReleaseType(name=name, window_releases=count,
                        **{k: _number(caps.get(k), key=f"{key}.{k}", source=source)
                           for k in ("per_release_epsilon", "window_days", "window_epsilon")})
        if t.window_days is not None and t.window_epsilon is None and t.window_releases is None:
            raise BudgetPolicyError(f"{source}: {key} has window_days but neither window_epsilon nor "
                                    "window_releases; say what the type may spend inside its window")
        types.append(t)
    return ReleaseTypes(types=tuple(types))


def load_budget_policy(path: str | Path) -> tuple[list[dict], str]:
    """The datasets' budgets in ``path`` (keyword arguments of ``composition.Budget``) and the
    file's SHA-256 (the ledger records which version it applied)."""
    source = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
        raw = yaml.safe_load(text) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise BudgetPolicyError(f"cannot read the budget policy {source}: {type(exc).__name__}") from None
    if not isinstance(raw, dict) or not isinstance(raw.get("datasets"), dict) or not raw["datasets"]:
        raise BudgetPolicyError(f"{source}: the budget policy needs a 'datasets' mapping of dataset names to budgets")
    budgets = []
    for dataset, entry in raw["datasets"].items():
        if not isinstance(entry, dict):
            raise BudgetPolicyError(f"{source}: {dataset} must be a mapping with epsilon and delta")
        known = {"epsilon", "delta", "composition", "per_release_epsilon", "window_days", "release_types",
                 "default_release_type"}
        unknown = sorted(set(entry) - known)
        if unknown:
            raise BudgetPolicyError(f"{source}: unknown key(s) {unknown} in {dataset}; known: {sorted(known)}")
        delta = _number(entry.get("delta"), key=f"{dataset}.delta", source=source, optional=False)
        if delta >= 1:
            raise BudgetPolicyError(f"{source}: {dataset}.delta must be below 1, got {delta}")
        types = _release_types(entry.get("release_types"), dataset=dataset, source=source)
        default = entry.get("default_release_type")
        if default is not None and default not in types.names:
            raise BudgetPolicyError(f"{source}: {dataset}.default_release_type {default!r} is not one of its release "
                                    f"types ({', '.join(types.names) or 'none declared'})")
        if entry.get("composition", "tight") not in ("tight", "basic"):
            raise BudgetPolicyError(f"{source}: {dataset}.composition must be tight or basic")
        budgets.append({
            "dataset": str(dataset), "epsilon": _number(entry.get("epsilon"), key=f"{dataset}.epsilon", source=source,
                                                        optional=False),
            "delta": delta, "composition": entry.get("composition", "tight"),
            "per_release_epsilon": _number(entry.get("per_release_epsilon"), key=f"{dataset}.per_release_epsilon",
                                           source=source),
            "window_days": _number(entry.get("window_days"), key=f"{dataset}.window_days", source=source),
            "release_types": ReleaseTypes(types=types.types, default=default)})
    return budgets, hashlib.sha256(text.encode("utf-8")).hexdigest()


def type_refusal(types: ReleaseTypes, name: str | None, *, dataset: str) -> tuple[ReleaseType | None, str | None]:
    """The release type a run counts against (its own, else the default), or why it is refused."""
    if not types.types:
        if name:
            return None, (f"refused: the run names release type {name!r}, but the budget of {dataset!r} declares no "
                          "release types; leave release_type empty or declare it in the budget policy. Nothing "
                          "was charged")
        return None, None
    chosen = name or types.default
    if chosen is None:
        return None, (f"refused: the budget of {dataset!r} has release types ({', '.join(types.names)}) and no "
                      "default; set release_type (--release-type, or the run setting). Nothing was charged")
    found = types.get(chosen)
    if found is None:
        return None, (f"refused: release type {chosen!r} is not one of {dataset!r}'s ({', '.join(types.names)}). "
                      "Nothing was charged")
    return found, None
