"""Shared helpers of the reports: number formatting, gate lists, and a defensive walk of
the audit metrics (whose sections grow: known ones are shown specially, the rest generically).

Reads no private values: it only reshapes aggregated results and DP metadata.
"""

from __future__ import annotations

import math
from typing import Iterator

AUDIT_NOTE = "computed on private data for internal review; aggregated and not differentially private"
# Reads made by the reports themselves (privacy/data_reads.py lists the pipeline's).
INTERNAL_LABEL = "INTERNAL REVIEW ONLY — not differentially private (computed on the private data)"

# Words that mark a gate or metric as a privacy (leakage) check rather than a utility one.
_PRIVACY_WORDS = ("dcr", "copy", "exact", "membership", "mia", "inference", "singling", "linkab", "nndr",
                  "attack", "risk", "privacy", "epsilon", "leak", "dp_guarantee")
_POINT_KEYS = ("value", "risk", "auc", "estimate", "score", "rate", "advantage")
_INTERVAL_KEYS = ("ci", "interval", "confidence_interval", "wilson_interval", "ci95")
_BOUND_PAIRS = (("ci_low", "ci_high"), ("ci_lower", "ci_upper"), ("lower", "upper"), ("low", "high"))


def fmt(value) -> str:
    """A short, stable rendering for tables: 4 significant digits, '—' for missing."""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return "—" if math.isnan(value) else f"{value:.4g}"
    return "—" if value is None else str(value)


def is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(float(value))


def all_gates(audit: dict, extra_gates: list[dict] | None = None) -> list[dict]:
    """The audit's gates plus any others of the run (Dagster check results), one per name."""
    gates = [g for g in (audit or {}).get("gates", []) if isinstance(g, dict)]
    seen = {g.get("gate") for g in gates}
    gates += [g for g in (extra_gates or []) if g.get("gate") not in seen]
    return gates


def failed_gates(audit: dict, extra_gates: list[dict] | None = None) -> list[dict]:
    return [g for g in all_gates(audit, extra_gates) if not g.get("passed")]


def is_privacy_gate(gate: dict) -> bool:
    text = f"{gate.get('gate', '')} {gate.get('metric', '')}".lower()
    return any(word in text for word in _PRIVACY_WORDS)


def walk_numbers(obj, prefix: str = "") -> Iterator[tuple[str, float]]:
    """Every finite number in a nested dict/list, with its dotted path (generic rendering)."""
    if isinstance(obj, dict):
        for key, value in obj.items():
            yield from walk_numbers(value, f"{prefix}.{key}" if prefix else str(key))
    elif isinstance(obj, (list, tuple)) and not _is_pair(obj):
        for i, value in enumerate(obj):
            yield from walk_numbers(value, f"{prefix}[{i}]")
    elif _is_pair(obj):
        yield f"{prefix}.low", float(obj[0])
        yield f"{prefix}.high", float(obj[1])
    elif is_number(obj):
        yield prefix, float(obj)


def _is_pair(obj) -> bool:
    return isinstance(obj, (list, tuple)) and len(obj) == 2 and all(is_number(v) for v in obj)


def _interval_of(node: dict, key_prefix: str = "") -> tuple[float, float] | None:
    for key in _INTERVAL_KEYS:
        value = node.get(f"{key_prefix}{key}")
        if _is_pair(value):
            return float(value[0]), float(value[1])
        if isinstance(value, dict):
            pair = _interval_of(value)
            if pair:
                return pair
    for low, high in _BOUND_PAIRS:
        if is_number(node.get(f"{key_prefix}{low}")) and is_number(node.get(f"{key_prefix}{high}")):
            return float(node[f"{key_prefix}{low}"]), float(node[f"{key_prefix}{high}"])
    return None


def find_intervals(obj, prefix: str = "") -> list[dict]:
    """Point estimates with a confidence interval anywhere in the metrics: a dict holding a
    point (value, risk, auc, …) and an interval (ci, interval, ci_low/ci_high, …), or a key
    ``x`` beside ``x_ci``. Returns [{name, value, low, high}], for the attack plot."""
    found = []
    if isinstance(obj, dict):
        pair = _interval_of(obj)
        point = next((obj[k] for k in _POINT_KEYS if is_number(obj.get(k))), None)
        if pair and point is not None:
            found.append({"name": prefix or "value", "value": float(point), "low": pair[0], "high": pair[1]})
        for key, value in obj.items():
            if is_number(value):
                sibling = _interval_of(obj, f"{key}_")
                if sibling:
                    found.append({"name": f"{prefix}.{key}" if prefix else key, "value": float(value),
                                  "low": sibling[0], "high": sibling[1]})
            elif isinstance(value, dict):
                found += find_intervals(value, f"{prefix}.{key}" if prefix else str(key))
    return found


def tstr_pairs(tstr: dict | None) -> list[dict]:
    """TSTR against TRTR per model and metric: [{model, metric, tstr, trtr}]. Reads either
    shape at any depth: ``tstr_<metric>`` beside ``trtr_<metric>``, or ``tstr`` and ``trtr``
    dicts of metrics side by side (one per model). When per-model results exist, the flat
    top-level summary (a copy of one of them) is left out."""
    if not isinstance(tstr, dict):
        return []
    nested = _tstr_pairs(tstr, "", top=False)
    return nested or _tstr_pairs(tstr, "", top=True)


def _tstr_pairs(node: dict, prefix: str, *, top: bool) -> list[dict]:
    pairs = []
    model = prefix or str(node.get("model") or "model")
    if not top and isinstance(node.get("tstr"), dict) and isinstance(node.get("trtr"), dict):
        pairs += [{"model": model, "metric": k, "tstr": float(v), "trtr": float(node["trtr"][k])}
                  for k, v in node["tstr"].items() if is_number(v) and is_number(node["trtr"].get(k))]
    if top:
        pairs += [{"model": model, "metric": k[5:], "tstr": float(v), "trtr": float(node["trtr_" + k[5:]])}
                  for k, v in node.items()
                  if k.startswith("tstr_") and is_number(v) and is_number(node.get("trtr_" + k[5:]))]
        return pairs
    for key, value in node.items():
        if isinstance(value, dict) and key not in ("tstr", "trtr"):
            child = f"{prefix}.{key}" if prefix else str(key)
            pairs += _tstr_pairs(value, child, top=False) + _tstr_pairs(value, child, top=True)
    return pairs


ATTACK_WORDS = ("risk", "membership", "mia", "attack", "singling", "linkab", "inference")


def attack_intervals(audit: dict) -> list[dict]:
    """The intervals of privacy attacks (not of utility metrics such as detection AUC)."""
    return [i for i in find_intervals(audit or {}) if any(w in i["name"].lower() for w in ATTACK_WORDS)]


def mechanism_facts(privacy: dict) -> dict:
    """The mechanism's parameters, whatever it is: DP-SGD (noise multiplier, sample rate,
    steps, clipping) or a zCDP method (AIM, MST: ρ converted to (ε, δ)); unknown keys kept."""
    skip = {"mechanism", "dp_scope", "epsilon_target", "epsilon_spent", "delta", "accountant", "ledger_event_id",
            "preprocessing", "privacy_level", "privacy_unit", "n_rows_public", "secure_rng", "randomness",
            "seed_controls", "floating_point_risk", "neighbouring_relation"}
    return {k: v for k, v in (privacy or {}).items() if k not in skip and (is_number(v) or isinstance(v, (str, bool)))}


def mechanism_text(privacy: dict) -> str:
    facts = mechanism_facts(privacy)
    parts = [f"{k.replace('_', ' ')} {fmt(v)}" for k, v in facts.items()]
    return f"{privacy.get('mechanism', 'unknown')}" + (f": {', '.join(parts)}" if parts else "")
