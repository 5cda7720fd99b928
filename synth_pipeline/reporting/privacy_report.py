"""The privacy report: the guarantee of one release, the dataset's budget after it, a
privacy level with a 10-point score, a safety assessment and tuning recommendations.

Reads no private values: it is built from the DP model's privacy metadata, the ledger's
totals, the config and the aggregated audit results (not DP, marked internal), plus the
optional empirical privacy audit (also internal, not DP).
"""

from __future__ import annotations

from synth_pipeline.privacy.config import privacy_level
from synth_pipeline.reporting.common import (
    AUDIT_NOTE, attack_intervals, failed_gates, fmt, is_number, is_privacy_gate, mechanism_facts)
from synth_pipeline.reporting.model_card import PRIVACY_UNIT

# Score anchors (ε, score), linear in between: the bands follow privacy_level's scale
# (very strong < 1 ≤ strong < 5 ≤ moderate < 10 ≤ weak < 20 ≤ insufficient).
SCORE_ANCHORS = ((0.0, 10.0), (1.0, 9.0), (5.0, 7.0), (10.0, 5.0), (20.0, 3.0), (50.0, 0.0))
SCORE_RULE = ("10 at ε=0, 9 at ε=1, 7 at ε=5, 5 at ε=10, 3 at ε=20, 0 from ε=50, linear in between; "
              "minus 2 per failed privacy gate; 0 when the generator is not DP or the empirical audit's "
              "ε lower bound exceeds the claimed ε")
HIGH_ATTACK_RISK = 0.2  # an attack's risk (or advantage over chance) above this is a warning
UNIT_NOTE_ROW = ("ε protects one row. A person with several rows (visits, claims, yearly records) is protected only "
                 "at about (rows × ε): declare `privacy_unit: COLUMN` and max_rows_per_unit in the schema to protect "
                 "persons")


def epsilon_score(epsilon: float) -> float:
    """The ε part of the score: piecewise linear over SCORE_ANCHORS."""
    for (e0, s0), (e1, s1) in zip(SCORE_ANCHORS, SCORE_ANCHORS[1:]):
        if epsilon <= e1:
            return s0 + (s1 - s0) * (max(epsilon, e0) - e0) / (e1 - e0)
    return 0.0


def _empirical(privacy_audit: dict | list | None) -> dict | None:
    """The empirical audit's result (issue 9's ``privacy_audit``); of several auditors, the
    one with the highest lower bound."""
    if isinstance(privacy_audit, list):
        results = [_empirical(r) for r in privacy_audit]
        results = [r for r in results if r is not None]
        return max(results, key=lambda r: r["empirical_epsilon_lower_bound"] or 0.0, default=None)
    if not isinstance(privacy_audit, dict):
        return None
    lower = next((privacy_audit[k] for k in ("empirical_epsilon_lower_bound", "epsilon_lower_bound",
                                             "empirical_epsilon", "epsilon_lb") if is_number(privacy_audit.get(k))),
                 None)
    claimed = next((privacy_audit[k] for k in ("claimed_epsilon", "epsilon_claimed", "epsilon")
                    if is_number(privacy_audit.get(k))), None)
    return {"claimed_epsilon": claimed, "empirical_epsilon_lower_bound": lower,
            "confidence": privacy_audit.get("confidence"), "auditor": privacy_audit.get("auditor"),
            "canaries": privacy_audit.get("canaries", privacy_audit.get("m")),
            "exceeds_claim": ((lower is not None and claimed is not None and lower > claimed)
                              or (privacy_audit.get("gate") or {}).get("passed") is False),
            "dp": False, "note": "empirical lower bound from a separate audit fit; internal, not DP"}


def _attack_warnings(audit: dict) -> list[str]:
    warnings = []
    for item in attack_intervals(audit):
        name = item["name"].lower()
        # AUCs are centred on 0.5; risks on 0.
        excess = item["value"] - 0.5 if "auc" in name else item["value"]
        if excess > HIGH_ATTACK_RISK:
            warnings.append(f"{item['name']} = {fmt(item['value'])} (interval {fmt(item['low'])}–"
                            f"{fmt(item['high'])}) is high")
    return warnings


def safety_assessment(*, is_dp: bool, epsilon: float | None, delta: float | None, n_rows: int | None,
                      audit: dict, extra_gates: list[dict] | None = None, quasi_identifiers: list[str] = (),
                      empirical: dict | None = None) -> dict:
    """Risk level (low, medium, high) with every warning that set it."""
    high, medium = [], []
    if not is_dp:
        high.append("the generator is NOT differentially private: a comparison baseline, never to be released")
    failed = failed_gates(audit, extra_gates)
    high += [f"privacy gate {g.get('gate')} failed: {g.get('message', '')}".rstrip(": ")
             for g in failed if is_privacy_gate(g)]
    medium += [f"utility gate {g.get('gate')} failed: {g.get('message', '')}".rstrip(": ")
               for g in failed if not is_privacy_gate(g)]
    if empirical and empirical["exceeds_claim"]:
        high.append(f"the empirical audit's ε lower bound {fmt(empirical['empirical_epsilon_lower_bound'])} exceeds "
                    f"the claimed ε {fmt(empirical['claimed_epsilon'])}: the DP implementation may be wrong")
    if is_dp and epsilon is not None:
        level = privacy_level(epsilon)
        if level in ("weak", "insufficient"):
            high.append(f"ε={fmt(epsilon)} gives a {level} guarantee")
        elif level == "moderate":
            medium.append(f"ε={fmt(epsilon)} gives a moderate guarantee")
    if is_dp and delta is not None and n_rows and delta >= 1.0 / n_rows:
        high.append(f"δ={fmt(delta)} is not well below 1/n={fmt(1.0 / n_rows)}")
    medium += _attack_warnings(audit)
    if quasi_identifiers:
        medium.append(f"quasi-identifiers are modelled ({', '.join(quasi_identifiers)}): linkage to outside data "
                      "is bounded by ε only")
    if not audit or not audit.get("gates"):
        medium.append("no audit results: attack and utility evidence is missing")
    level = "high" if high else ("medium" if [w for w in medium if "quasi-identifiers" not in w] else "low")
    return {"risk_level": level, "warnings": high + medium}


def recommendations(*, is_dp: bool, generator: str, epsilon: float | None, ledger_after: dict, audit: dict,
                    preprocessing: dict | None, n_categorical: int = 0, n_numeric: int = 0,
                    extra_gates: list[dict] | None = None) -> dict:
    """How to tune the next release for more privacy or for more utility."""
    more_privacy, more_utility = [], []
    remaining = ledger_after.get("remaining_epsilon")
    if not is_dp:
        more_privacy.append(f"use the DP twin (dp-{generator}) or a marginal-based DP generator (aim, mst): "
                            f"{generator} has no guarantee")
    elif epsilon is not None:
        more_privacy.append(f"lower ε (for example ε={fmt(round(epsilon / 2, 3))}): the guarantee strengthens and "
                            "the dataset's budget lasts more releases")
        if epsilon > 1 and n_categorical >= n_numeric:
            more_privacy.append("marginal-based generators (aim, mst) keep utility at low ε on mostly categorical "
                                "data")
    more_privacy.append("release fewer times from the same source: every release composes in the ledger")
    if preprocessing:
        cols = list(preprocessing.get("numeric", [])) + list(preprocessing.get("categorical", []))
        more_privacy.append(f"declare bounds or categories for {', '.join(cols)} in the public schema: the share of "
                            "ε spent on DP statistics goes back to the model")
    failed_utility = [g for g in failed_gates(audit, extra_gates) if not is_privacy_gate(g)]
    if is_dp and epsilon is not None and is_number(remaining) and remaining > 0:
        more_utility.append(f"raise ε within what the budget has left (ε≈{fmt(remaining)}, composed)")
    more_utility.append("more training rows or larger expected batches lower the noise per step at the same ε")
    if failed_utility:
        more_utility.append("utility gates failed (" + ", ".join(str(g.get("gate")) for g in failed_utility) +
                            "): try a marginal-based generator (aim, mst) or more epochs at the same ε")
    quality = (audit or {}).get("quality") or {}
    worst = quality.get("worst_pairs") or {}
    if worst:
        more_utility.append("the weakest column pairs are " + ", ".join(list(worst)[:3]) +
                        ": consider a coarser public schema for them")
    return {"more_privacy": more_privacy, "more_utility": more_utility}


def build_privacy_report(*, model: dict, config: dict, ledger_after: dict, audit: dict, profile: dict | None = None,
                         pii: dict | None = None, privacy_audit: dict | None = None,
                         extra_gates: list[dict] | None = None) -> dict:
    """The privacy report of one release (JSON-ready). Reads no rows."""
    privacy = model.get("privacy", {})
    is_dp = bool(model.get("is_dp"))
    epsilon = privacy.get("epsilon_spent") if is_dp else None
    target = privacy.get("epsilon_target") if is_dp else None
    profile = profile or {}
    empirical = _empirical(privacy_audit if privacy_audit is not None else (audit or {}).get("privacy_audit"))
    failed = failed_gates(audit, extra_gates)
    failed_privacy = [g for g in failed if is_privacy_gate(g)]
    if not is_dp or (empirical and empirical["exceeds_claim"]):
        score, adjustments = 0.0, ["not DP" if not is_dp else "empirical ε above the claim"]
    else:
        score = epsilon_score(epsilon)
        adjustments = [f"-2: privacy gate {g.get('gate')} failed" for g in failed_privacy]
        score = max(0.0, score - 2.0 * len(failed_privacy))
    # δ is judged against the public bound of the plan (rows, or persons: n itself is private)
    n_rows = profile.get("public_rows") or profile.get("max_rows")
    return {
        "document": "privacy report",
        "generator": model.get("generator"),
        "is_dp": is_dp,
        "dp_scope": privacy.get("dp_scope"),
        "mechanism": privacy.get("mechanism"),
        "mechanism_parameters": mechanism_facts(privacy),
        "accountant": privacy.get("accountant"),
        "privacy_unit": privacy.get("unit") or PRIVACY_UNIT,
        "privacy_unit_note": (UNIT_NOTE_ROW if not privacy.get("privacy_unit") else
                              f"ε protects each person of {privacy['privacy_unit']!r}: each kept at most "
                              f"{privacy.get('rows_per_unit')} rows (chosen on secret coins) before any DP computation"),
        # Non-DP counts of the private drop (persons, rows dropped by bounding): internal review only.
        "contribution_bounding": model.get("contribution_bounding") or {"privacy_unit": "one row"},
        "epsilon_achieved": epsilon,
        "epsilon_target": target,
        "delta": privacy.get("delta") if is_dp else None,
        "budget_utilization": (epsilon / target) if is_number(epsilon) and is_number(target) and target else None,
        "ledger_after_release": ledger_after,
        "dataset_budget_used": (ledger_after["spent_epsilon"] / ledger_after["budget_epsilon"]
                                if is_number(ledger_after.get("spent_epsilon")) and ledger_after.get("budget_epsilon")
                                else None),
        "privacy_level": privacy_level(epsilon) if is_number(epsilon) else "none: not differentially private",
        "privacy_score": {"score": round(score, 1), "out_of": 10, "rule": SCORE_RULE, "adjustments": adjustments},
        "safety": safety_assessment(is_dp=is_dp, epsilon=epsilon, delta=privacy.get("delta"), n_rows=n_rows,
                                    audit=audit, extra_gates=extra_gates,
                                    quasi_identifiers=(pii or {}).get("quasi_identifiers", []), empirical=empirical),
        "recommendations": recommendations(is_dp=is_dp, generator=model.get("generator", ""), epsilon=epsilon,
                                           ledger_after=ledger_after, audit=audit,
                                           preprocessing=privacy.get("preprocessing"),
                                           n_categorical=profile.get("n_categorical", 0),
                                           n_numeric=profile.get("n_numeric", 0), extra_gates=extra_gates),
        "empirical_privacy_audit": empirical,
        "n_rows": "private (add/remove neighbours): the sampling rate and δ come from the schema's max_rows",
        "audit_note": AUDIT_NOTE,
    }
