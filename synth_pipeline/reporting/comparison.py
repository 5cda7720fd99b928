"""Comparative analysis of a sweep (several generators and ε values on one drop): privacy,
utility and risk side by side, with a privacy-utility chart.

Reads no private values: each row comes from one release's written reports (the release
summary and the privacy report: DP metadata, ledger totals, aggregated non-DP audit
results) or, for a run that stopped early, from its gate verdicts.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path

from synth_pipeline.reporting.common import AUDIT_NOTE, fmt, is_number
from synth_pipeline.reporting.html import render_page
from synth_pipeline.reporting.plots import privacy_utility_png

COLUMNS = (("label", "run"), ("generator", "generator"), ("epsilon_target", "ε target"), ("epsilon", "ε spent"),
           ("delta", "δ"), ("privacy_level", "privacy level"), ("privacy_score", "score /10"),
           ("risk_level", "risk"), ("quality_score", "quality"), ("tstr_auc", "TSTR AUC"),
           ("trtr_auc", "TRTR AUC"), ("utility", "TSTR/TRTR"), ("dcr_share", "DCR share"),
           ("exact_match_share", "exact copies"), ("status", "status"))


def comparison_row(*, setting: dict, run_id: str | None, success: bool, release_report: dict | None = None,
                   privacy_report: dict | None = None, reasons: list[str] | None = None,
                   report_path: str | None = None) -> dict:
    """One run of the sweep. ``setting``: the config it ran with ({generator, epsilon, …})."""
    generator = setting.get("generator", "dp-tvae")
    label = f"{generator} ε={fmt(setting.get('epsilon'))}"
    row = {"label": label, "generator": generator, "epsilon_target": setting.get("epsilon"), "setting": setting,
           "run_id": run_id, "report": report_path, "reasons": list(reasons or [])}
    if release_report is None:
        return {**row, "is_dp": None, "epsilon": None, "status": "stopped: " + ("; ".join(reasons or []) or
                                                                              "no report")}
    audit = release_report.get("audit") or {}
    tstr, dcr, quality = audit.get("tstr") or {}, audit.get("dcr") or {}, audit.get("quality") or {}
    pr = privacy_report or {}
    is_dp = bool(release_report.get("is_dp"))
    failed = [g["gate"] for g in release_report.get("gates", []) if not g.get("passed")]
    if not is_dp:
        status = "not DP: never released"
    elif failed or not release_report.get("release_passed"):
        status = "blocked: " + (", ".join(failed) or "release gates")
    else:
        status = "released" if success else "blocked: " + "; ".join(reasons or ["a later gate failed"])
    return {**row, "is_dp": is_dp,
            "epsilon": (release_report.get("privacy") or {}).get("epsilon_spent") if is_dp else None,
            "delta": (release_report.get("privacy") or {}).get("delta") if is_dp else None,
            "privacy_level": pr.get("privacy_level"), "privacy_score": (pr.get("privacy_score") or {}).get("score"),
            "risk_level": (pr.get("safety") or {}).get("risk_level"),
            "quality_score": quality.get("quality_score"), "tstr_auc": tstr.get("tstr_auc"),
            "trtr_auc": tstr.get("trtr_auc"), "utility": tstr.get("auc_ratio"),
            "dcr_share": dcr.get("dcr_share"), "exact_match_share": dcr.get("exact_match_share"),
            "status": status}


def build_comparison(rows: list[dict], *, dataset: str, partition: str | None, ledger_after: dict | None = None) -> dict:
    """The sweep's table, the best released run by utility, and the notes a reviewer needs."""
    released = [r for r in rows if r.get("status") == "released" and is_number(r.get("utility"))]
    best = max(released, key=lambda r: r["utility"], default=None)
    return {
        "document": "comparative analysis",
        "generated_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "dataset": dataset, "partition": partition, "runs": rows,
        "best_released_by_utility": best["label"] if best else None,
        "ledger_after_sweep": ledger_after,
        "notes": [
            "Every run of the sweep is a release charged in full to the dataset's ledger (invariant 6): "
            "comparing settings on private data is not free.",
            "Utility is TSTR AUC over TRTR AUC on the real holdout; risk and utility columns are " + AUDIT_NOTE + ".",
            "Non-private twins are comparison baselines only: they carry no guarantee and are never released.",
        ],
    }


def render_html(comparison: dict, chart: bytes) -> str:
    rows = comparison["runs"]
    table = [tuple(r.get(key) for key, _ in COLUMNS) for r in rows]
    sections = [
        ("Runs side by side", [("note", n) for n in comparison["notes"]] +
         [("table", [title for _, title in COLUMNS], table),
          ("p", f"Best released run by utility: {comparison['best_released_by_utility'] or 'none'}.")]),
        ("Privacy-utility trade-off", [("img", chart, "privacy-utility chart: utility against ε per generator")]),
        ("Runs", [("table", ["run", "run id", "report", "reasons"],
                   [(r["label"], r.get("run_id"), r.get("report"), r.get("reasons")) for r in rows])]),
    ]
    if comparison.get("ledger_after_sweep"):
        ledger = comparison["ledger_after_sweep"]
        sections.append(("Ledger after the sweep", [("kv", [(k, v) for k, v in ledger.items()])]))
    return render_page(f"Comparison: {comparison['dataset']} / {comparison['partition']}", sections,
                       subtitle=f"{len(rows)} run(s), generated {comparison['generated_at']}")


def write_comparison(comparison: dict, directory: str | Path) -> dict[str, Path]:
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    chart = privacy_utility_png(comparison["runs"])
    paths = {"json": directory / "comparison.json", "html": directory / "comparison.html",
             "chart": directory / "privacy_utility.png"}
    paths["json"].write_text(json.dumps(comparison, indent=2, default=str, ensure_ascii=False), encoding="utf-8")
    paths["html"].write_text(render_html(comparison, chart), encoding="utf-8")
    paths["chart"].write_bytes(chart)
    return paths
