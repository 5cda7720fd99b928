"""The internal review documents of one release, built and written together (what
``compliance_report`` runs); the public ones are ``public_release``'s.

Reads private values in one place only: the real holdout's per-column shares and pairwise
associations for the plots (``plots.marginal_tables``, ``plots.association_matrix``): NOT DP,
internal review material, marked as such. Everything else comes from DP metadata, the
ledger, the public schema and aggregated audit results (not DP). Every page written here
says INTERNAL; none is ever copied into ``release/``.

Layout of a run's folder (``data/outputs/<dataset>/<partition>/<run id[:8]>/``)::

    internal/                                   INTERNAL review: never released
        release_report.json, release_report.md  summary (gates, ledger, data handling)
        release_decision.json                   the gates' decision, taken once per model
        candidate/synthetic.csv, .parquet        sampled before the gates
        report/
            release_report.html                 everything below in one offline page
            privacy_report.json
            compliance.json, compliance.md
            model_card.json, model_card.md
            narrative.json, narrative.md
            plots/*.png
    release/                                    only when every gate passed (public_release)
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
from pathlib import Path

import pandas as pd

from synth_pipeline.reporting import compliance as compliance_mod
from synth_pipeline.reporting import model_card as card_mod
from synth_pipeline.reporting import narrative as narrative_mod
from synth_pipeline.reporting import plots
from synth_pipeline.reporting.privacy_report import build_privacy_report
from synth_pipeline.reporting.release_page import render_release_page
from synth_pipeline.reporting.release_report import build_report, write_report
from synth_pipeline.evaluation.release import INTERNAL_DIR
from synth_pipeline.reporting.common import INTERNAL_LABEL
from synth_pipeline.schema import TableSchema

REPORT_DIR = "report"
INTERNAL_BANNER = f"> **{INTERNAL_LABEL}.** Never copied into `release/`.\n\n"


def file_digest(path: str | Path, *, key: bytes | None = None) -> str | None:
    """SHA-256 of a file, or its HMAC-SHA-256 under ``key``. A plain hash of a private drop
    is a guess-checker for its rows (hash a guessed file, compare): raw drops are only ever
    identified by the keyed HMAC, and only in internal documents."""
    p = Path(path)
    if not p.is_file():
        return None
    digest = hmac.new(key, digestmod=hashlib.sha256) if key is not None else hashlib.sha256()
    with p.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def instance_secret(path: str | Path) -> bytes:
    """The instance's HMAC key (32 random bytes, created on first use, readable by the owner
    only); it stays beside the ledger, out of every release."""
    p = Path(path)
    if not p.is_file():
        p.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(p, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(secrets.token_bytes(32))
    return p.read_bytes()


def source_facts(*, drop_path: str | Path | None, schema_path: str | Path | None, secret: bytes) -> dict:
    """Data source and version, for internal documents: file names, the drop's keyed HMAC
    (under the instance secret) and the public schema's SHA-256."""
    return {"drop_file": Path(drop_path).name if drop_path else None,
            "drop_hmac_sha256": file_digest(drop_path, key=secret) if drop_path else None,
            "schema_file": Path(schema_path).name if schema_path else None,
            "schema_sha256": file_digest(schema_path) if schema_path else None}


def build_plots(*, real_holdout: pd.DataFrame | None, synthetic: pd.DataFrame | None, schema: TableSchema,
                audit: dict, ledger_history: list[dict], ledger_after: dict) -> dict[str, bytes]:
    """PNG bytes by name. The real side READS PRIVATE VALUES (holdout), NOT DP: internal."""
    out: dict[str, bytes] = {}
    if real_holdout is not None and synthetic is not None and len(real_holdout) and len(synthetic):
        for table in plots.marginal_tables(real_holdout, synthetic, schema):
            out[f"marginal_{table['column']}"] = plots.marginal_png(table)
        names, real_matrix = plots.association_matrix(real_holdout, schema)
        _, synth_matrix = plots.association_matrix(synthetic, schema)
        out["correlations"] = plots.correlation_png(names, real_matrix, synth_matrix)
    out["tstr"] = plots.tstr_png((audit or {}).get("tstr"))
    out["attacks"] = plots.attacks_png(audit)
    out["ledger"] = plots.ledger_png(ledger_history, ledger_after)
    return out


def build_documents(*, schema: TableSchema, profile: dict, pii: dict, config: dict, model: dict, audit: dict,
                    ledger_after: dict, ledger_history: list[dict], real_holdout: pd.DataFrame | None = None,
                    synthetic: pd.DataFrame | None = None, partition_key: str | None = None,
                    run_id: str | None = None, run_events: list[dict] | None = None,
                    extra_gates: list[dict] | None = None, source: dict | None = None,
                    privacy_audit: dict | None = None, governance: dict | None = None) -> dict:
    """All documents of one release as dicts, the plots as PNG bytes and the HTML page.

    ``ledger_history`` is the dataset's ledger history (every release); the release's own
    event is the model's ``ledger_event_id`` (a re-audit run reports its training run's event)
    or any whose run key starts with ``run_id``. ``extra_gates`` are gate verdicts from
    outside the audit (Dagster checks of this run: {gate, passed}). ``privacy_audit`` is the
    empirical audit's result when there is one (else ``audit['privacy_audit']`` if present).
    ``governance`` is the governance policy in force (approvals, terms, retention), stated in
    the privacy report.
    """
    summary = build_report(profile=profile, pii=pii, config=config, model=model, ledger_after=ledger_after,
                           audit=audit, partition_key=partition_key, run_id=run_id)
    privacy = build_privacy_report(model=model, config=config, ledger_after=ledger_after, audit=audit,
                                   profile=profile, pii=pii, privacy_audit=privacy_audit, extra_gates=extra_gates)
    if governance is not None:
        privacy["governance"] = {"approvals_required": governance["approval"]["required"],
                                 "approvers": governance["approval"]["approvers"],
                                 "retention_days": governance["retention_days"],
                                 "terms_expiry_days": governance["terms"]["expiry_days"],
                                 "policy": governance["source"]}
    event_id = (model.get("privacy") or {}).get("ledger_event_id")
    mine = [e for e in ledger_history if (event_id and e.get("event_id") == event_id)
            or (run_id and str(e.get("run_key", "")).startswith(run_id))]
    docs = {
        "release_report": summary,
        "privacy_report": privacy,
        "compliance": compliance_mod.build_compliance(privacy_report=privacy, pii=pii, audit=audit, run_id=run_id,
                                                      extra_gates=extra_gates),
        "model_card": card_mod.build_model_card(profile=profile, config=config, model=model, audit=audit,
                                                source=source, partition_key=partition_key, run_id=run_id,
                                                privacy_audit=privacy_audit),
        "narrative": narrative_mod.build_narrative(run_id=run_id, partition_key=partition_key,
                                                   dataset=profile["dataset"], generator=model.get("generator", ""),
                                                   events=run_events, ledger_events=mine,
                                                   release_passed=summary["release_passed"],
                                                   generated_at=summary["generated_at"]),
        "plots": build_plots(real_holdout=real_holdout, synthetic=synthetic, schema=schema, audit=audit,
                             ledger_history=ledger_history, ledger_after=ledger_after),
    }
    docs["html"] = render_release_page(docs, banner=f"{INTERNAL_LABEL}. Never copied into release/.")
    return docs


def _dump(obj) -> str:
    return json.dumps({"classification": INTERNAL_LABEL, **obj}, indent=2, default=str, ensure_ascii=False)


def write_documents(docs: dict, folder: str | Path) -> dict[str, Path]:
    """Write every document under ``<folder>/internal/`` (the run's internal review), each
    page marked INTERNAL; returns their paths."""
    directory = Path(folder) / INTERNAL_DIR
    paths = write_report(docs["release_report"], directory, banner=INTERNAL_BANNER,
                         stamp={"classification": INTERNAL_LABEL})
    out = directory / REPORT_DIR
    (out / "plots").mkdir(parents=True, exist_ok=True)
    texts = {
        "html": ("release_report.html", docs["html"]),
        "privacy_report": ("privacy_report.json", _dump(docs["privacy_report"])),
        "compliance": ("compliance.json", _dump(docs["compliance"])),
        "compliance_markdown": ("compliance.md",
                                INTERNAL_BANNER + compliance_mod.render_markdown(docs["compliance"])),
        "model_card": ("model_card.json", _dump(docs["model_card"])),
        "model_card_markdown": ("model_card.md", INTERNAL_BANNER + card_mod.render_markdown(docs["model_card"])),
        "narrative": ("narrative.json", _dump(docs["narrative"])),
        "narrative_markdown": ("narrative.md", INTERNAL_BANNER + narrative_mod.render_markdown(docs["narrative"])),
    }
    for key, (name, text) in texts.items():
        paths[key] = out / name
        paths[key].write_text(text, encoding="utf-8")
    for name, png in docs["plots"].items():
        (out / "plots" / f"{name}.png").write_bytes(png)
    paths["plots"] = out / "plots"
    return paths
