"""Compliance mapping per framework (HIPAA, GDPR, CCPA, SOC 2): the requirements the tool
can speak to, this run's evidence, a status with its reasons, recommendations, and what
the tool cannot decide.

The status is technical evidence, not a legal opinion. It is one of:
- ``non-compliant``: a release gate failed or the generator is not DP (never "compliant" then);
- ``review required``: no blocker, but something needs a person's judgement first;
- ``compliant``: every technical requirement listed is met by this run's evidence; the
  legal sign-off listed under ``cannot_decide`` is still required.

Reads no private values: it is built from the privacy report, the PII scan's column-level
findings, the gates and the ledger totals.
"""

from __future__ import annotations

import json

from synth_pipeline.reporting.common import all_gates, attack_intervals, failed_gates, fmt, is_number

COMPLIANT, REVIEW, NON_COMPLIANT = "compliant", "review required", "non-compliant"
# ε above which a guarantee is weak evidence of anonymisation (privacy_level's "weak" band).
WEAK_EPSILON = 10.0
# HIPAA Safe Harbor's identifiers that survive as quasi-identifiers unless generalised.
SAFE_HARBOR_WORDS = ("zip", "postcode", "postal", "date", "birth", "dob", "age", "city", "county")

FRAMEWORKS = {
    "HIPAA": {
        "name": "HIPAA Privacy Rule, de-identification (45 CFR §164.514)",
        "requirements": [
            "§164.514(b)(2) Safe Harbor: the 18 identifiers are removed (names, geographic units smaller "
            "than a state, dates but the year, ages over 89, phone, e-mail, SSN, record and account numbers, …)",
            "§164.514(b)(1) Expert Determination: a qualified expert determines that the risk of "
            "re-identification is very small, and documents the methods and results",
            "§164.514(c) re-identification codes are not derived from individual information",
        ],
        "cannot_decide": "Whether the data is de-identified under HIPAA is a determination for a qualified expert "
                         "(Expert Determination) or your privacy officer (Safe Harbor), and whether its use is "
                         "permitted is a legal judgement. This tool supplies technical evidence only.",
    },
    "GDPR": {
        "name": "EU General Data Protection Regulation",
        "requirements": [
            "Recital 26: anonymous data is not personal data when no one can identify a person by means "
            "reasonably likely to be used (singling out, linkability, inference: WP29 Opinion 05/2014)",
            "Art. 5(1)(c) data minimisation: direct identifiers are not processed for training",
            "Art. 25 data protection by design: a formal guarantee (DP) and release gates",
            "Art. 30 and 5(2) accountability: records of processing (ledger, run history, model card)",
            "Art. 35 DPIA: a data protection impact assessment where the processing is high-risk",
        ],
        "cannot_decide": "Whether the synthetic table is anonymous data under Recital 26, the lawful basis for "
                         "producing it (Art. 6), and whether a DPIA is required are legal judgements for your "
                         "controller and data protection officer. This tool supplies technical evidence only.",
    },
    "CCPA": {
        "name": "California Consumer Privacy Act / CPRA",
        "requirements": [
            "§1798.140(m) deidentified: the information cannot reasonably be used to infer information about, "
            "or be linked to, a particular consumer",
            "§1798.140(m)(1) reasonable technical measures against re-identification",
            "§1798.140(m)(2)–(3) a public commitment not to re-identify, and contracts binding recipients",
        ],
        "cannot_decide": "Whether the table is 'deidentified' under the CCPA, the public commitment not to "
                         "re-identify and the contracts with recipients are for your legal team. This tool "
                         "supplies technical evidence only.",
    },
    "SOC 2": {
        "name": "SOC 2 Trust Services Criteria (Confidentiality, Privacy, Security)",
        "requirements": [
            "C1.1 confidential information is identified and protected (public schema, identifier roles)",
            "CC6.1 logical access: the raw drop and Dagster's storage stay in protected storage",
            "CC7.2 monitoring: every release is logged with its gates (Dagster run history)",
            "CC8.1 change management: every release records its config; its DP noise is secret and never replayable",
            "P4.1 use of personal information limited to its purpose: the privacy ledger caps total spend",
        ],
        "cannot_decide": "A SOC 2 opinion covers your controls over a period and is given by an independent "
                         "auditor. Access control to data/state/, retention and vendor management are outside "
                         "this tool. This tool supplies evidence for some controls only.",
    },
}


def evidence(*, privacy_report: dict, pii: dict, audit: dict, run_id: str | None,
             extra_gates: list[dict] | None = None) -> dict:
    """This run's evidence, shared by every framework (aggregates and DP metadata only)."""
    attacks = {k: v for k, v in ((audit or {}).get("dcr") or {}).items() if is_number(v)}
    for item in attack_intervals(audit):
        attacks[item["name"]] = f"{fmt(item['value'])} [{fmt(item['low'])}, {fmt(item['high'])}]"
    gates = [{"gate": g.get("gate"), "passed": bool(g.get("passed"))} for g in all_gates(audit, extra_gates)]
    ledger = privacy_report.get("ledger_after_release") or {}
    return {
        "run_id": run_id,
        "generator": privacy_report.get("generator"),
        "differentially_private": privacy_report.get("is_dp"),
        "epsilon": privacy_report.get("epsilon_achieved"),
        "delta": privacy_report.get("delta"),
        "privacy_unit": privacy_report.get("privacy_unit"),
        "privacy_level": privacy_report.get("privacy_level"),
        "attack_results (internal, not DP)": attacks,
        "empirical_privacy_audit": privacy_report.get("empirical_privacy_audit"),
        "pii_handling": {
            "direct_identifiers_dropped": list(pii.get("dropped_before_training", [])),
            "identifier_findings_in_training_columns": len(pii.get("findings", [])),
            "quasi_identifiers_modelled": list(pii.get("quasi_identifiers", [])),
        },
        "ledger": {k: ledger.get(k) for k in ("dataset", "budget_epsilon", "spent_epsilon", "remaining_epsilon",
                                              "events", "composition")},
        "gates": gates,
    }


def _blockers(ev: dict, audit: dict, extra_gates: list[dict] | None) -> list[str]:
    reasons = []
    if not ev["differentially_private"]:
        reasons.append(f"{ev['generator']} is not differentially private: no formal guarantee")
    reasons += [f"release gate {g.get('gate')} failed" for g in failed_gates(audit, extra_gates)]
    if ev["pii_handling"]["identifier_findings_in_training_columns"]:
        reasons.append("identifier-like values were found in training columns")
    empirical = ev.get("empirical_privacy_audit") or {}
    if empirical.get("exceeds_claim"):
        reasons.append("the empirical privacy audit contradicts the claimed ε")
    return reasons


def _framework_reviews(key: str, ev: dict, audit: dict) -> tuple[list[str], list[str], list[str]]:
    """(review reasons, met requirements, recommendations) specific to one framework."""
    reviews, met, recs = [], [], []
    epsilon = ev["epsilon"]
    quasi = ev["pii_handling"]["quasi_identifiers_modelled"]
    if ev["pii_handling"]["direct_identifiers_dropped"] or not ev["pii_handling"]["identifier_findings_in_training_columns"]:
        met.append("direct identifiers are dropped before training; none found among the training columns")
    if is_number(epsilon):
        if epsilon > WEAK_EPSILON:
            reviews.append(f"ε={fmt(epsilon)} is a weak guarantee")
            recs.append(f"release at ε ≤ {WEAK_EPSILON:g}")
        else:
            met.append(f"(ε={fmt(epsilon)}, δ={fmt(ev['delta'])})-DP over the whole pipeline for "
                       f"{ev.get('privacy_unit') or 'one row of the drop'}, charged to the ledger")
    attacks = ev["attack_results (internal, not DP)"]
    if key == "HIPAA":
        safe_harbor = [q for q in quasi if any(w in q.lower() for w in SAFE_HARBOR_WORDS)]
        if safe_harbor:
            reviews.append(f"Safe Harbor identifiers may survive in {', '.join(safe_harbor)} (ages over 89, dates, "
                           "small geographic units): rely on Expert Determination or generalise them")
            recs.append("ask a qualified expert for a determination, with the model card and this report as evidence")
        recs.append("file this report and the model card with the de-identification documentation "
                    "(§164.514(b)(1)(ii))")
    elif key == "GDPR":
        covered = [w for w in ("singling", "linkab", "inference") if any(w in k.lower() for k in attacks)]
        if len(covered) < 3:
            reviews.append("not every WP29 criterion (singling out, linkability, inference) has an attack result in "
                           "this run")
            recs.append("run the singling-out, linkability and inference attacks in the audit")
        else:
            met.append("singling-out, linkability and inference risks measured")
        recs.append("record this release in your Art. 30 records and DPIA")
    elif key == "CCPA":
        if attacks:
            met.append("re-identification measures tested with attacks against a holdout")
        recs.append("publish the commitment not to re-identify and bind recipients by contract")
    elif key == "SOC 2":
        met.append(f"release logged (run {ev['run_id']}) with its gates; ledger event recorded")
        if ev["ledger"].get("events") is not None:
            met.append(f"ledger: {ev['ledger']['events']} event(s), ε={fmt(ev['ledger']['spent_epsilon'])} of "
                       f"{fmt(ev['ledger']['budget_epsilon'])} spent")
        recs.append("protect data/state/ (Dagster storage holds the raw drop) like the input data")
    if not (audit or {}).get("gates"):
        reviews.append("no audit results in this run")
    return reviews, met, recs


def framework_report(key: str, ev: dict, *, audit: dict, extra_gates: list[dict] | None = None) -> dict:
    spec = FRAMEWORKS[key]
    blockers = _blockers(ev, audit, extra_gates)
    reviews, met, recs = _framework_reviews(key, ev, audit)
    if blockers:
        status, reasons = NON_COMPLIANT, blockers + reviews
        recs = ["fix the failures above and make a new release (charged in full)"] + recs
    elif reviews:
        status, reasons = REVIEW, reviews
    else:
        status, reasons = COMPLIANT, ["every technical requirement listed is met by this run's evidence"]
    return {"framework": key, "name": spec["name"], "requirements": spec["requirements"], "evidence": ev,
            "requirements_met": met, "status": status, "reasons": reasons, "recommendations": recs,
            "cannot_decide": spec["cannot_decide"]}


def build_compliance(*, privacy_report: dict, pii: dict, audit: dict, run_id: str | None = None,
                     extra_gates: list[dict] | None = None) -> dict:
    """One report per framework, with the shared evidence once."""
    ev = evidence(privacy_report=privacy_report, pii=pii, audit=audit, run_id=run_id, extra_gates=extra_gates)
    return {
        "document": "compliance mapping",
        "disclaimer": "Technical evidence, not legal advice. A status of 'compliant' means the technical "
                      "requirements listed are met by this run's evidence; the decisions under 'cannot_decide' "
                      "remain with people.",
        "evidence": ev,
        "frameworks": {key: framework_report(key, ev, audit=audit, extra_gates=extra_gates) for key in FRAMEWORKS},
    }


def render_markdown(compliance: dict) -> str:
    lines = ["# Compliance mapping", "", f"_{compliance['disclaimer']}_", ""]
    for report in compliance["frameworks"].values():
        lines += [f"## {report['framework']}: {report['name']}", "", f"**Status: {report['status']}**", ""]
        lines += ["Reasons:", ""] + [f"- {r}" for r in report["reasons"]]
        lines += ["", "Requirements considered:", ""] + [f"- {r}" for r in report["requirements"]]
        lines += ["", "Met by this run's evidence:", ""] + ([f"- {r}" for r in report["requirements_met"]] or ["- none"])
        lines += ["", "Recommendations:", ""] + [f"- {r}" for r in report["recommendations"]]
        lines += ["", f"What this tool cannot decide: {report['cannot_decide']}", ""]
    ev = compliance["evidence"]
    lines += ["## Evidence from this run", ""]
    lines += [f"- {k.replace('_', ' ')}: "
              f"{fmt(v) if not isinstance(v, (dict, list)) else json.dumps(v, default=str, ensure_ascii=False)}"
              for k, v in ev.items()]
    return "\n".join(lines) + "\n"
