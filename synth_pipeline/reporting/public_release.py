"""The documents that leave with a release (``release/``): the public model card, privacy
report and compliance statement.

Reads no private values, and takes nothing computed on raw rows without DP: only DP output
(the model's privacy metadata, DP statistics, the DP or user-set synthetic row count), the
declared public schema, the user's config and the ledger's DP accounting. Gate values,
attack results, plots, subgroup counts, empirical-audit results and identities of the drop
stay in the internal review (``internal/``); these documents say so.
"""

from __future__ import annotations

import json

from synth_pipeline.evaluation.release import NON_DP_DECISION
from synth_pipeline.privacy.data_reads import RAW_DATA_READS
from synth_pipeline.reporting.common import fmt, mechanism_facts
from synth_pipeline.reporting.model_card import (INTENDED_USES, OUT_OF_SCOPE, PRIVACY_UNIT, budget_split,
                                                 domain_sources)
from synth_pipeline.schema import TableSchema

PUBLIC = "PUBLIC: differentially private output and declared-public facts only"
NOT_HERE = ("Not in this release, by design: the release gates' values, attack results, plots of the real data, "
            "subgroup counts, empirical privacy-audit results and any identity of the source file. They are "
            "computed on the raw rows without DP and stay in the internal review.")
FRAMEWORKS = {
    "HIPAA": "expert determination (§164.514(b)(1)) can rest on the DP guarantee below; the determination is a "
             "person's, not this tool's",
    "GDPR": "the guarantee bounds what the table reveals of any one person (Recital 26, WP29 05/2014 criteria); "
            "whether the data are anonymous is a legal judgement",
    "CCPA": "deidentified data (§1798.140(m)) needs the public commitment and contracts of the releasing business",
    "SOC 2": "the ledger records every ε spent on this dataset (CC6.1, CC7.2); the auditor's opinion is theirs",
}


def _schema_facts(schema: TableSchema, dp_statistics: dict, preprocessing: dict | None) -> list[dict]:
    """Per modelled column: type, where its domain came from (declared or bought with DP) and
    what buying it cost (``domain_sources``)."""
    rows = []
    sources = domain_sources([(c.name, c.type) for c in schema.modelled_columns], preprocessing)
    for col, source in zip(schema.modelled_columns, sources):
        stats = dp_statistics.get(col.name, {})
        declared = {k: list(v) for k, v in (("bounds", col.bounds), ("categories", col.categories),
                                            ("values", col.values)) if v is not None}
        bought = {k: stats[k] for k in ("bounds", "categories") if k in stats}
        rows.append({"name": col.name, "type": col.type, "declared": declared, "dp_statistics": bought,
                     "domain": source["domain"], "domain_cost": source["cost"]})
    return rows


def build_public_documents(*, schema: TableSchema, config: dict, model: dict, ledger_after: dict,
                           partition_key: str | None, run_id: str | None) -> dict:
    """The public model card, privacy report and compliance statement, as dicts."""
    privacy = model.get("privacy") or {}
    is_dp = bool(model.get("is_dp"))
    guarantee = {
        "differentially_private": is_dp,
        "epsilon": privacy.get("epsilon_spent") if is_dp else None,
        "epsilon_target": privacy.get("epsilon_target") if is_dp else None,
        "delta": privacy.get("delta") if is_dp else None,
        "privacy_unit": privacy.get("unit") or PRIVACY_UNIT,
        **({"rows_per_unit": privacy["rows_per_unit"]} if privacy.get("privacy_unit") else {}),
        "neighbouring_relation": privacy.get("neighbouring_relation"),
        "accountant": privacy.get("accountant"),
        "mechanism": privacy.get("mechanism"),
        "mechanism_parameters": mechanism_facts(privacy),
        "what_is_dp": privacy.get("dp_scope"),
        "ledger_event_id": privacy.get("ledger_event_id"),
    }
    randomness = {"source": privacy.get("randomness"), "floating_point": privacy.get("floating_point_risk"),
                  "seed": (config or {}).get("seed"), "seed_controls": privacy.get("seed_controls")}
    card = {
        "document": "model card", "classification": PUBLIC,
        "dataset": schema.dataset, "partition": partition_key, "run_id": run_id,
        "generator": model.get("generator"), "guarantee": guarantee,
        "budget_split": budget_split(privacy) if is_dp else {"note": "not DP"},
        "randomness": randomness,
        "synthetic_rows": {"rows": model.get("synthetic_rows"), "source": model.get("synthetic_rows_source")},
        "public_schema": {"max_rows": schema.max_rows,
                          **({"privacy_unit": schema.privacy_unit, "max_rows_per_unit": schema.max_rows_per_unit,
                              "max_units": schema.max_units} if schema.privacy_unit else {}),
                          "columns": _schema_facts(schema, model.get("dp_statistics")
                                                                                or {}, privacy.get("preprocessing")),
                          "direct_identifiers_dropped": schema.direct_identifiers},
        "hyper_parameters": {k: v for k, v in (config or {}).items() if k not in ("epsilon", "delta")},
        "raw_data_reads": [dict(r) for r in RAW_DATA_READS],
        "release_decision": NON_DP_DECISION,
        "not_in_this_release": NOT_HERE,
        "intended_uses": INTENDED_USES, "out_of_scope_uses": OUT_OF_SCOPE,
    }
    report = {
        "document": "privacy report", "classification": PUBLIC, "dataset": schema.dataset,
        "generator": model.get("generator"), "guarantee": guarantee, "randomness": randomness,
        "dataset_ledger": {k: ledger_after.get(k) for k in ("budget_epsilon", "budget_delta", "events",
                                                            "spent_epsilon", "remaining_epsilon", "composition")},
        "release_decision": NON_DP_DECISION, "not_in_this_release": NOT_HERE,
    }
    statement = {
        "document": "compliance statement", "classification": PUBLIC, "dataset": schema.dataset,
        "guarantee": {k: guarantee[k] for k in ("differentially_private", "epsilon", "delta", "privacy_unit",
                                                "neighbouring_relation")},
        "direct_identifiers": "declared direct identifiers are dropped before training: "
                              + (", ".join(schema.direct_identifiers) or "none declared"),
        "frameworks": FRAMEWORKS,
        "release_decision": NON_DP_DECISION, "not_in_this_release": NOT_HERE,
        "note": "technical evidence, not legal advice",
    }
    return {"model_card": card, "privacy_report": report, "compliance_statement": statement}


def _markdown(title: str, doc: dict) -> str:
    lines = [f"# {title}", "", f"_{doc['classification']}._", ""]
    for key, value in doc.items():
        if key in ("document", "classification"):
            continue
        heading = key.replace("_", " ")
        if isinstance(value, dict):
            lines += [f"## {heading}", "", "| | |", "|---|---|"]
            lines += [f"| {k.replace('_', ' ')} | {_cell(v)} |" for k, v in value.items()]
            lines.append("")
        elif isinstance(value, list):
            lines += [f"## {heading}", ""] + [f"- {_cell(v)}" for v in value] + [""]
        else:
            lines += [f"**{heading}**: {fmt(value)}", ""]
    return "\n".join(lines) + "\n"


def _cell(value) -> str:
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False, default=str).replace("|", "\\|")
    return fmt(value).replace("|", "\\|")


def render_public_documents(docs: dict) -> dict[str, str]:
    """File name -> text for ``release/`` (JSON and Markdown of each document)."""
    out = {}
    for key, doc in docs.items():
        out[f"{key}.json"] = json.dumps(doc, indent=2, ensure_ascii=False, default=str)
        out[f"{key}.md"] = _markdown(doc["document"].capitalize() + f": {doc['dataset']}", doc)
    return out
