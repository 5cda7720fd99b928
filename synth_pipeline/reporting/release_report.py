"""The release report (JSON and Markdown): privacy, data handling, gates and audit.

Reads no private rows: it is assembled from the ledger, the DP model's metadata, the
profile (public schema and n), the PII scan's column-level findings and the aggregated,
non-DP audit metrics, which it marks as such.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path

from synth_pipeline.privacy.config import privacy_level
from synth_pipeline.privacy.data_reads import RAW_DATA_READS
from synth_pipeline.reporting.common import fmt as _fmt
from synth_pipeline.reporting.common import mechanism_text
from synth_pipeline.reporting.model_card import PRIVACY_UNIT


def build_report(*, profile: dict, pii: dict, config: dict, model: dict, ledger_after: dict, audit: dict,
                 partition_key: str | None = None, run_id: str | None = None) -> dict:
    privacy = model["privacy"]
    gates = audit.get("gates", [])
    return {
        "report": "synth_pipeline release report",
        "generated_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "dataset": profile["dataset"],
        "partition": partition_key,
        "run_id": run_id,
        "generator": model["generator"],
        "is_dp": model["is_dp"],
        "privacy": {
            **privacy,
            "privacy_level": (privacy_level(privacy["epsilon_spent"]) if model["is_dp"]
                              else "none: not differentially private"),
            "privacy_unit": (privacy.get("unit") or PRIVACY_UNIT) + " (add/remove neighbours, counts private)",
        },
        # Non-DP counts of the private drop (persons, rows each kept or dropped): internal only.
        "contribution_bounding": model.get("contribution_bounding") or {"privacy_unit": "one row"},
        "ledger_after_release": ledger_after,
        "data_handling": {
            "direct_identifiers_dropped": pii["dropped_before_training"],
            "quasi_identifiers": pii["quasi_identifiers"],
            "pii_findings_in_training_columns": len(pii["findings"]),
            "training_columns": pii["training_columns"],
            "raw_data_reads": list(RAW_DATA_READS),
        },
        "config": config,
        "audit": {
            "dp": False,
            "note": "computed on private data for internal review; aggregated and not differentially private",
            "quality": audit.get("quality"),
            "tstr": audit.get("tstr"),
            "dcr": audit.get("dcr"),
        },
        "gates": gates,
        "release_passed": bool(audit.get("passed")) and bool(model["is_dp"]),
    }


def render_markdown(report: dict) -> str:
    p = report["privacy"]
    ledger = report["ledger_after_release"]
    lines = [
        f"# Release report: {report['dataset']} / {report['partition']}",
        "",
        f"Generated {report['generated_at']} by run `{report['run_id']}`.",
        f"Release gates: **{'passed' if report['release_passed'] else 'FAILED'}**.",
        "",
        "## Privacy",
        "",
        "| | |",
        "|---|---|",
        f"| generator | {report['generator']} ({'DP' if report['is_dp'] else 'NOT differentially private'}) |",
    ]
    if report["is_dp"]:
        lines += [
            f"| ε spent / targeted | {_fmt(p['epsilon_spent'])} / {_fmt(p['epsilon_target'])} "
            f"({p['accountant']} accountant) |",
            f"| δ | {_fmt(p['delta'])} |",
            f"| privacy level | {p['privacy_level']} |",
            f"| what is DP | {p['dp_scope']} |",
            f"| mechanism | {mechanism_text(p)} |",
        ]
    else:
        lines += ["| guarantee | **none**: a non-private comparison baseline; it passes no privacy gate and is "
                  "never released |"]
    lines += [
        f"| privacy unit | {p['privacy_unit']} |",
        "| row count | private (sampling rate and δ come from the schema's max_rows) |",
        f"| randomness | {p.get('randomness', 'not recorded')} |",
        "",
        "## Ledger after this release",
        "",
        f"Dataset `{ledger['dataset']}`: budget ε={_fmt(ledger['budget_epsilon'])}, δ={_fmt(ledger['budget_delta'])} "
        f"({ledger['composition']} composition). Spent ε={_fmt(ledger['spent_epsilon'])} "
        f"(basic sum {_fmt(ledger['spent_epsilon_basic'])}, tight {_fmt(ledger['spent_epsilon_tight'])}) over "
        f"{ledger['events']} event(s); left ε={_fmt(ledger['remaining_epsilon'])}.",
        "",
        "## Data handling",
        "",
        f"Direct identifiers dropped before training: {', '.join(report['data_handling']['direct_identifiers_dropped']) or 'none'}.",
        f"Quasi-identifiers kept: {', '.join(report['data_handling']['quasi_identifiers']) or 'none'}.",
        "",
        "| step | reads | DP | status |",
        "|---|---|---|---|",
    ]
    lines += [f"| {r['step']} | {r['reads']} | {r['dp']} | {r['status']} |"
              for r in report["data_handling"]["raw_data_reads"]]
    audit = report["audit"]
    tstr, dcr, fidelity = audit.get("tstr") or {}, audit.get("dcr") or {}, audit.get("quality") or {}
    lines += [
        "",
        "## Audit (internal, not DP)",
        "",
        f"_{audit['note']}._",
        "",
        f"- Quality score {_fmt(fidelity.get('quality_score'))} (column shapes {_fmt(fidelity.get('column_shapes'))}, "
        f"column-pair trends {_fmt(fidelity.get('column_pair_trends'))}; SDMetrics convention, against the holdout)",
        f"- TSTR AUC {_fmt(tstr.get('tstr_auc'))} vs TRTR AUC {_fmt(tstr.get('trtr_auc'))} "
        f"(ratio {_fmt(tstr.get('auc_ratio'))}; {tstr.get('model', '')} on label `{tstr.get('label')}`)",
        f"- DCR share {_fmt(dcr.get('dcr_share'))} (0.5 means synthetic rows are no closer to training rows than "
        f"to holdout rows); DCR ratio {_fmt(dcr.get('dcr_ratio'))} (synthetic over holdout distance to training "
        f"rows: 1 is no closer than fresh data); exact copies {_fmt(dcr.get('exact_match_share'))}; "
        f"NNDR median {_fmt(dcr.get('nndr_median'))}",
        "",
        "## Release gates",
        "",
        "| gate | metric | value | threshold | verdict |",
        "|---|---|---|---|---|",
    ]
    lines += [f"| {g['gate']} | {g['metric']} | {_fmt(g['value'])} | {_fmt(g['threshold'])} | "
              f"{'pass' if g['passed'] else 'FAIL'} |" for g in report["gates"]]
    return "\n".join(lines) + "\n"


def write_report(report: dict, directory: str | Path, *, banner: str = "", stamp: dict | None = None
                 ) -> dict[str, Path]:
    """``banner`` opens the Markdown and ``stamp`` the JSON (the internal label)."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    paths = {"json": directory / "release_report.json", "markdown": directory / "release_report.md"}
    paths["json"].write_text(json.dumps({**(stamp or {}), **report}, indent=2, default=str), encoding="utf-8")
    paths["markdown"].write_text(banner + render_markdown(report), encoding="utf-8")
    return paths
