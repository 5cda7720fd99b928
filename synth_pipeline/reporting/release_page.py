"""The reviewer's HTML page of one release: privacy report, compliance mapping, model card,
audit narrative and plots in one offline file.

Reads no private values: it lays out documents and PNGs built elsewhere (the real-data
plots are marked internal and not DP where they are drawn).
"""

from __future__ import annotations

from synth_pipeline.reporting.common import INTERNAL_LABEL, fmt
from synth_pipeline.reporting.html import render_page


def _privacy_section(pr: dict, plots: dict) -> list[tuple]:
    ledger = pr["ledger_after_release"]
    blocks = []
    if not pr["is_dp"]:
        blocks.append(("note", f"{pr['generator']} is NOT differentially private: a comparison baseline, "
                               "never released."))
    blocks.append(("kv", [
        ("generator", f"{pr['generator']} ({'DP' if pr['is_dp'] else 'NOT differentially private'})"),
        ("what is DP", pr["dp_scope"]), ("mechanism", pr["mechanism"]),
        ("ε achieved / targeted", f"{fmt(pr['epsilon_achieved'])} / {fmt(pr['epsilon_target'])}"),
        ("δ", pr["delta"]), ("accountant", pr["accountant"]),
        ("budget utilization (ε achieved / target)", pr["budget_utilization"]),
        ("privacy level", pr["privacy_level"]),
        ("privacy score", f"{pr['privacy_score']['score']} / 10"),
        ("row count", pr["n_rows"]),
        *[(k.replace("_", " "), v) for k, v in pr["mechanism_parameters"].items()],
    ]))
    blocks.append(("p", f"Score rule: {pr['privacy_score']['rule']}."))
    blocks += [("h3", "Dataset ledger after this release"), ("kv", [
        ("dataset", ledger.get("dataset")), ("budget ε / δ", f"{fmt(ledger.get('budget_epsilon'))} / "
                                                             f"{fmt(ledger.get('budget_delta'))}"),
        ("spent ε", f"{fmt(ledger.get('spent_epsilon'))} ({ledger.get('composition')} composition; basic sum "
                    f"{fmt(ledger.get('spent_epsilon_basic'))})"),
        ("remaining ε", ledger.get("remaining_epsilon")), ("events", ledger.get("events")),
        ("share of the budget used", pr["dataset_budget_used"])])]
    if "ledger" in plots:
        blocks.append(("img", plots["ledger"], "ε spent on the dataset over releases"))
    safety = pr["safety"]
    blocks += [("h3", f"Safety assessment: risk {safety['risk_level']}"), ("list", safety["warnings"] or ["none"]),
               ("h3", "Recommendations: more privacy"), ("list", pr["recommendations"]["more_privacy"]),
               ("h3", "Recommendations: more utility"), ("list", pr["recommendations"]["more_utility"])]
    emp = pr.get("empirical_privacy_audit")
    if emp:
        blocks += [("h3", "Empirical privacy audit (internal, not DP)"),
                   ("kv", [(k.replace("_", " "), v) for k, v in emp.items()])]
    return blocks


def _compliance_section(compliance: dict) -> list[tuple]:
    blocks = [("note", compliance["disclaimer"]),
              ("table", ["framework", "status", "reasons"],
               [(r["framework"], r["status"], r["reasons"]) for r in compliance["frameworks"].values()])]
    for r in compliance["frameworks"].values():
        blocks += [("h3", f"{r['framework']}: {r['name']}"), ("status", r["status"]), ("list", r["reasons"]),
                   ("p", "Requirements considered:"), ("list", r["requirements"]),
                   ("p", "Met by this run's evidence:"), ("list", r["requirements_met"] or ["none"]),
                   ("p", "Recommendations:"), ("list", r["recommendations"]),
                   ("note", f"What this tool cannot decide: {r['cannot_decide']}")]
    ev = compliance["evidence"]
    blocks += [("h3", "Evidence from this run"), ("kv", list(ev.items()))]
    return blocks


def _model_card_section(card: dict) -> list[tuple]:
    p, a = card["privacy"], card["audit"]
    split = p["budget_split"]
    return [
        ("kv", [("generator", card["model"]["generator"]), ("what is DP", card["model"]["what_is_dp"]),
                ("data", f"{card['data']['dataset']} / {card['data']['partition']}"),
                *[(k.replace("_", " "), v) for k, v in card["data"]["source"].items()],
                ("privacy unit", p["unit"]), ("neighbouring relation", p["neighbouring_relation"]),
                ("ε / δ", f"{fmt(p['epsilon'])} / {fmt(p['delta'])}"), ("accountant", p["accountant"]),
                ("secure RNG", f"{'yes' if p['secure_rng']['used'] else 'no'}: {p['secure_rng']['note']}")]),
        ("h3", "Budget split"),
        ("kv", [(k, v) for k, v in split.items()]),
        ("h3", "Every read of the raw data"),
        ("table", ["step", "reads", "DP", "status"],
         [(r["step"], r["reads"], r["dp"], r["status"]) for r in card["raw_data_reads"]]),
        ("h3", "Hyper-parameters"), ("kv", list(card["hyper_parameters"].items())),
        ("h3", "Audit results (internal, not DP)"), ("note", a["note"]),
        ("kv", [("quality score", a["quality_score"]), ("column shapes", a["column_shapes"]),
                ("column-pair trends", a["column_pair_trends"]),
                *[(f"{t['model']} {t['metric']} TSTR / TRTR", f"{fmt(t['tstr'])} / {fmt(t['trtr'])}")
                  for t in a["tstr"]],
                *[(f"DCR {k}", v) for k, v in a["distance_to_closest_record"].items()],
                *a["other_metrics"].items()]),
        ("table", ["gate", "metric", "value", "threshold", "verdict"],
         [(g["gate"], g["metric"], g["value"], g["threshold"], "pass" if g["passed"] else "FAIL")
          for g in a["gates"]]),
        ("h3", "Intended uses"), ("list", card["intended_uses"]),
        ("h3", "Out of scope"), ("list", card["out_of_scope_uses"]),
    ]


def _plots_section(plots: dict) -> list[tuple]:
    blocks = [("note", f"{INTERNAL_LABEL}. Real-data panels show shares over public bins and categories of "
                       "the held-out real split; axis labels come from the public schema only.")]
    for name, png in plots.items():
        if name.startswith("marginal_"):
            blocks.append(("img", png, f"marginal of {name[len('marginal_'):]}: real vs synthetic"))
    for name, alt in (("correlations", "correlation heat maps: real and synthetic"),
                      ("tstr", "TSTR against TRTR"), ("attacks", "attack results with intervals")):
        if name in plots:
            blocks.append(("img", plots[name], alt))
    return blocks


def render_release_page(docs: dict, *, banner: str = "") -> str:
    pr, narrative = docs["privacy_report"], docs["narrative"]
    sections = [
        ("Privacy report", _privacy_section(pr, docs["plots"])),
        ("Compliance", _compliance_section(docs["compliance"])),
        ("Model card", _model_card_section(docs["model_card"])),
        ("Audit narrative", [("p", f"Outcome: {narrative['outcome']}."),
                             ("table", ["time (UTC)", "source", "what happened"],
                              [(e["at"], e["source"], e["what"]) for e in narrative["entries"]])]),
        ("Plots", _plots_section(docs["plots"])),
    ]
    title = f"Release report: {narrative['dataset']} / {narrative['partition']}"
    return render_page(title, sections, subtitle=f"run {narrative['run_id']} · generator {pr['generator']}",
                       banner=banner)
