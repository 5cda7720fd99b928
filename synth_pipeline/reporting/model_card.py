"""The model card of one release (JSON and Markdown): data source and version, privacy unit,
guarantee and accountant, budget split, every raw-data read with its DP status, RNG,
generator and hyper-parameters, audit results, intended and out-of-scope uses.

Reads no private values: built from DP metadata, the config, the public schema facts, file
digests (provenance of the drop and schema, computed by the caller) and aggregated audit
results (not DP, marked internal).
"""

from __future__ import annotations

from synth_pipeline.privacy.data_reads import RAW_DATA_READS
from synth_pipeline.reporting.common import (
    AUDIT_NOTE, fmt, is_number, mechanism_facts, tstr_pairs, walk_numbers)

PRIVACY_UNIT = "one row of the drop"
NEIGHBOURING = ("add/remove one row (unbounded DP), the row count n private: the sampling rate and δ come from "
                "the schema's max_rows, the synthetic table's size from the user or a DP estimate")
INTENDED_USES = [
    "analytics, dashboards and exploratory work on aggregate patterns",
    "development and testing of pipelines and ML models before access to real data",
    "sharing with vendors or teams that may not see the real rows, within the released guarantee",
]
OUT_OF_SCOPE = [
    "decisions about individual people: synthetic rows are not real people",
    "statistics on groups smaller than the noise allows (rare categories are distorted)",
    "re-identification or linkage attempts of any kind",
    "a NOT-DP generator's output (tvae, ctgan): comparison only, never released",
    "inference that needs exact values (the real data are reached only through DP noise)",
]


def domain_sources(columns: list[tuple[str, str]], preprocessing: dict | None) -> list[dict]:
    """Per modelled column ((name, type) pairs): whether its domain was declared in the public schema
    (free) or bought with DP statistics in the run's ledger event, and what that cost (its
    share of the Gaussian release's ρ, and the threshold's δ for discovered categories).
    Public facts and the plan only."""
    from synth_pipeline.privacy.preprocessing import PreprocessingPlan

    plan = PreprocessingPlan(**preprocessing) if preprocessing else None
    rows = []
    for name, kind in columns:
        cost = plan.column_cost(name) if plan else None
        bought = cost is not None and cost["bought"] in ("bounds", "categories")
        rows.append({"column": name,
                     "domain": f"bought with DP ({cost['bought']})" if bought else
                     ("declared (its type)" if kind == "boolean" else "declared in the public schema"),
                     "cost": cost})
    return rows


def budget_split(privacy: dict) -> dict:
    """How the run's ε is divided between DP preprocessing (statistics for open columns) and
    training, each with its standalone ε; the ledger composes them in one event (under RDP,
    less than the sum)."""
    pre = privacy.get("preprocessing")
    delta = privacy.get("delta")
    nm = privacy.get("noise_multiplier")
    split = {"composition": "one ledger event, composed under RDP", "preprocessing": None, "training": None}
    if not is_number(delta):
        return {**split, "note": "no DP guarantee: nothing is charged"}
    threshold_delta = (pre or {}).get("threshold_delta", 0.0) or 0.0
    try:
        from synth_pipeline.privacy.accounting import dp_sgd_epsilon, epsilon_of

        if pre:
            import dp_accounting as dpa
            from synth_pipeline.privacy.preprocessing import PreprocessingPlan

            plan = PreprocessingPlan(**pre)
            split["preprocessing"] = {
                **({"rho": plan.rho} if plan.rho is not None else {}),
                "columns": list(plan.numeric) + [c for c in plan.categorical if c not in plan.numeric],
                "mechanism": "Gaussian histograms and thresholded counts",
                "noise_multiplier": plan.noise_multiplier, "threshold_delta": threshold_delta,
                "epsilon_standalone": epsilon_of([dpa.GaussianDpEvent(plan.noise_multiplier)],
                                                 delta=delta - threshold_delta)}
        if all(is_number(privacy.get(k)) for k in ("noise_multiplier", "sample_rate", "steps")):
            split["training"] = {"mechanism": "DP-SGD", "epsilon_standalone": dp_sgd_epsilon(
                noise_multiplier=nm, sample_rate=privacy["sample_rate"], steps=int(privacy["steps"]),
                delta=delta - threshold_delta, accountant=privacy.get("accountant") or "rdp",
                relation="replace-one" if privacy.get("relation") == "replace-one" else "add-remove")}
        elif is_number(privacy.get("model_rho")):
            from synth_pipeline.privacy.accounting import zcdp_epsilon

            split["training"] = {"mechanism": privacy.get("mechanism"), "rho": privacy["model_rho"],
                                 "epsilon_standalone": zcdp_epsilon(rho=privacy["model_rho"],
                                                                    delta=delta - threshold_delta)}
        else:
            split["training"] = {"mechanism": privacy.get("mechanism"), "epsilon_standalone": None,
                                 "parameters": mechanism_facts(privacy)}
    except (ImportError, ValueError, TypeError, KeyError) as exc:  # never fail a report on an estimate
        split["note"] = f"standalone ε not computed: {exc}"
    if not pre:
        split["preprocessing"] = {"columns": [], "note": "none: every bound and category comes from the public "
                                                         "schema (no budget spent)"}
    return split


def _secure_rng(model: dict) -> dict:
    """Where the DP draws came from (the model's privacy metadata), what ``seed`` steers, and
    the floating-point residual risk."""
    privacy = model.get("privacy") or {}
    used = bool(privacy.get("secure_rng")) and bool(model.get("is_dp"))
    return {"used": used, "note": privacy.get("randomness") or "not recorded",
            "seed": (model.get("config") or {}).get("seed"), "seed_controls": privacy.get("seed_controls"),
            "floating_point": privacy.get("floating_point_risk")}


def audit_summary(audit: dict) -> dict:
    """Known sections by name, every other number generically (the audit grows)."""
    audit = audit or {}
    known = ("quality", "tstr", "dcr", "gates", "passed", "dp", "note", "privacy_audit")
    quality = audit.get("quality") or {}
    return {
        "dp": False,
        "note": AUDIT_NOTE,
        "quality_score": quality.get("quality_score"),
        "column_shapes": quality.get("column_shapes"),
        "column_pair_trends": quality.get("column_pair_trends"),
        "tstr": tstr_pairs(audit.get("tstr")),
        "tstr_label": (audit.get("tstr") or {}).get("label"),
        "distance_to_closest_record": {k: v for k, v in (audit.get("dcr") or {}).items() if is_number(v)},
        "other_metrics": {path: value for key, section in audit.items() if key not in known
                          for path, value in walk_numbers(section, key)},
        "gates": [{k: g.get(k) for k in ("gate", "metric", "value", "threshold", "passed")}
                  for g in audit.get("gates", [])],
        "passed": audit.get("passed"),
    }


def build_model_card(*, profile: dict, config: dict, model: dict, audit: dict, source: dict | None = None,
                     partition_key: str | None = None, run_id: str | None = None,
                     privacy_audit: dict | None = None) -> dict:
    privacy = model.get("privacy", {})
    is_dp = bool(model.get("is_dp"))
    hyper = {k: v for k, v in (config or {}).items() if k not in ("epsilon", "delta")}
    plan = model.get("plan") or {}
    empirical = privacy_audit if privacy_audit is not None else (audit or {}).get("privacy_audit")
    return {
        "document": "model card",
        "model": {"generator": model.get("generator"), "differentially_private": is_dp,
                  "what_is_dp": privacy.get("dp_scope"), "model_dir": "model/ (state dict + model.json)",
                  "device": (model.get("training") or {}).get("device")},
        "data": {"dataset": profile.get("dataset"), "partition": partition_key, "run_id": run_id,
                 "source": source or {}, "columns_modelled": profile.get("modelled_columns", []),
                 "direct_identifiers_dropped": profile.get("direct_identifiers", []),
                 "rows": "n is read from the drop and is private (not shown here); max_rows "
                         f"{profile.get('max_rows')} is the public bound",
                 "synthetic_rows": {"rows": model.get("synthetic_rows"), "source": model.get("synthetic_rows_source")}},
        "privacy": {
            "unit": privacy.get("unit") or PRIVACY_UNIT, "neighbouring_relation": privacy.get("neighbouring_relation") or NEIGHBOURING,
            "epsilon": privacy.get("epsilon_spent") if is_dp else None,
            "epsilon_target": privacy.get("epsilon_target") if is_dp else None,
            "delta": privacy.get("delta") if is_dp else None,
            "accountant": privacy.get("accountant"),
            "mechanism": privacy.get("mechanism"), "mechanism_parameters": mechanism_facts(privacy),
            "budget_split": budget_split(privacy) if is_dp else {"note": "not DP: nothing is charged"},
            "domains": domain_sources([(c["name"], c["type"]) for c in profile.get("columns", [])
                                       if c["name"] in set(profile.get("modelled_columns", []))],
                                      privacy.get("preprocessing")),
            "numeric_bins": (model.get("training") or {}).get("binning"),
            "ledger_event_id": privacy.get("ledger_event_id"),
            "secure_rng": _secure_rng(model),
        },
        "raw_data_reads": [dict(r) for r in RAW_DATA_READS],
        "hyper_parameters": {**hyper, **{k: plan.get(k) for k in ("steps", "sample_rate", "noise_multiplier")
                                         if k in plan}},
        "audit": audit_summary(audit),
        "empirical_privacy_audit": empirical,
        "intended_uses": INTENDED_USES,
        "out_of_scope_uses": OUT_OF_SCOPE,
    }


def _table(rows: list[tuple]) -> list[str]:
    return ["| | |", "|---|---|"] + [f"| {a} | {fmt(b)} |" for a, b in rows]


def render_markdown(card: dict) -> str:
    m, d, p, a = card["model"], card["data"], card["privacy"], card["audit"]
    split = p["budget_split"]
    lines = [f"# Model card: {m['generator']} on {d['dataset']} / {d['partition']}", "",
             f"Run `{d['run_id']}`. "
             + ("Differentially private." if m["differentially_private"] else
                "**NOT differentially private: a comparison baseline, never released.**"), "",
             "## Data", ""]
    lines += _table([("dataset", d["dataset"]), ("partition (drop)", d["partition"]), ("rows", d["rows"]),
                     ("modelled columns", ", ".join(d["columns_modelled"])),
                     ("direct identifiers dropped", ", ".join(d["direct_identifiers_dropped"]) or "none")]
                    + [(k.replace("_", " "), v) for k, v in d["source"].items()])
    lines += ["", "## Privacy", ""]
    lines += _table([("privacy unit", p["unit"]), ("neighbouring relation", p["neighbouring_relation"]),
                     ("ε (target)", f"{fmt(p['epsilon'])} ({fmt(p['epsilon_target'])})"), ("δ", p["delta"]),
                     ("accountant", p["accountant"]), ("mechanism", p["mechanism"]),
                     ("what is DP", m["what_is_dp"]),
                     ("secure RNG", f"{'yes' if p['secure_rng']['used'] else 'no'}: {p['secure_rng']['note']}")]
                    + [(k.replace("_", " "), v) for k, v in p["mechanism_parameters"].items()])
    lines += ["", "### Budget split", ""]
    for part in ("preprocessing", "training"):
        info = split.get(part)
        if info:
            lines.append(f"- {part}: " + ", ".join(f"{k.replace('_', ' ')} {fmt(v) if not isinstance(v, list) else ', '.join(v) or 'none'}"
                                                   for k, v in info.items()))
    if split.get("composition"):
        lines.append(f"- composition: {split['composition']}")
    if split.get("note"):
        lines.append(f"- note: {split['note']}")
    lines += ["", "### Where each column's domain came from", "", "| column | domain | cost |", "|---|---|---|"]
    lines += [f"| {d['column']} | {d['domain']} | " + (f"ρ {fmt(d['cost']['rho'])}, δ {fmt(d['cost']['delta'])} "
                                                         f"({d['cost']['mechanism']})" if d["cost"] else "none")
              + " |" for d in p.get("domains", [])]
    bins = p.get("numeric_bins")
    if bins:
        lines += ["", "### Data-following numeric bins (aim, mst)", "",
                  f"{bins['mechanism']}, ρ {fmt(bins['rho'])} of the model's ρ, in the same ledger event; the bins and "
                  "the values decoded inside them are post-processing of it.", "",
                  "| column | bins | decode pieces | tree levels | noise σ |", "|---|---|---|---|---|"]
        lines += [f"| {name} | {b['bins']} | {b['decode_pieces']} | {b['levels']} | {fmt(b['sigma'])} |"
                  for name, b in bins["columns"].items()]
    lines += ["", "## Every read of the raw data", "", "| step | reads | DP | status |", "|---|---|---|---|"]
    lines += [f"| {r['step']} | {r['reads']} | {r['dp']} | {r['status']} |" for r in card["raw_data_reads"]]
    lines += ["", "## Generator and hyper-parameters", ""]
    lines += _table(list(card["hyper_parameters"].items()))
    lines += ["", "## Audit (internal, not DP)", "", f"_{a['note']}._", ""]
    lines += _table([("quality score", a["quality_score"]), ("column shapes", a["column_shapes"]),
                     ("column-pair trends", a["column_pair_trends"])]
                    + [(f"{t['model']} {t['metric']} (TSTR / TRTR)", f"{fmt(t['tstr'])} / {fmt(t['trtr'])}")
                       for t in a["tstr"]]
                    + [(f"DCR {k}", v) for k, v in a["distance_to_closest_record"].items()]
                    + list(a["other_metrics"].items()))
    if a["gates"]:
        lines += ["", "| gate | metric | value | threshold | verdict |", "|---|---|---|---|---|"]
        lines += [f"| {g['gate']} | {g['metric']} | {fmt(g['value'])} | {fmt(g['threshold'])} | "
                  f"{'pass' if g['passed'] else 'FAIL'} |" for g in a["gates"]]
    emp = card.get("empirical_privacy_audit")
    for result in ([emp] if isinstance(emp, dict) else emp if isinstance(emp, list) else []):
        lines += ["", "## Empirical privacy audit (internal, not DP)", ""]
        lines += _table([(k.replace("_", " "), v) for k, v in result.items() if not isinstance(v, (dict, list))])
    lines += ["", "## Intended uses", ""] + [f"- {u}" for u in card["intended_uses"]]
    lines += ["", "## Out of scope", ""] + [f"- {u}" for u in card["out_of_scope_uses"]]
    return "\n".join(lines) + "\n"
