"""Rare events and subgroups: category coverage, and per-group error for sensitive columns.

Reads private values, not DP; internal, aggregated: groups are named by their declared
(public) category only; what leaves is counts, shares and scores per group. The smallest
groups are listed on their own, so a generator that erases a minority cannot hide behind
a good average.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from synth_pipeline.evaluation.features import discrete_codes
from synth_pipeline.evaluation.utility import MODELS, LabelScores, classification_scores
from synth_pipeline.schema import TableSchema

SMALLEST_GROUPS = 3
MIN_GROUP_ROWS = 50  # smaller groups are listed, but their error is mostly sampling noise: not gated


def category_coverage(real: pd.DataFrame, synthetic: pd.DataFrame, schema: TableSchema) -> dict:
    """Share of the categories seen in the real rows that the synthetic rows also hold
    (SDMetrics' CategoryCoverage), per categorical column; missing values do not count.
    Reads private values, not DP; internal, aggregated."""
    per_column = {}
    for col in schema.modelled_columns:
        if col.is_numeric:
            continue
        (r, s), k = discrete_codes([real, synthetic], col)
        declared = k - 1  # every code but 'missing' (undeclared values share one code)
        seen = np.bincount(r, minlength=k)[:declared] > 0
        if seen.any():
            held = np.bincount(s, minlength=k)[:declared] > 0
            per_column[col.name] = float((seen & held).sum() / seen.sum())
    values = list(per_column.values())
    return {"mean": float(np.mean(values)) if values else None, "min": float(min(values)) if values else None,
            "per_column": per_column}


def _group_tv(real_g: np.ndarray, synth_g: np.ndarray, real_c: np.ndarray, synth_c: np.ndarray,
              kg: int, kc: int) -> np.ndarray:
    """Per group, the TV distance between the real and synthetic distributions of one column."""
    r = np.bincount(real_g * kc + real_c, minlength=kg * kc).reshape(kg, kc).astype(float)
    s = np.bincount(synth_g * kc + synth_c, minlength=kg * kc).reshape(kg, kc).astype(float)
    r /= np.maximum(r.sum(axis=1, keepdims=True), 1)
    s /= np.maximum(s.sum(axis=1, keepdims=True), 1)
    return 0.5 * np.abs(r - s).sum(axis=1)


def _group_tstr(scores: LabelScores | None, groups: np.ndarray, g: int) -> dict:
    if scores is None:
        return {}
    in_group = groups[scores.holdout_rows] == g
    y = scores.y_test[in_group]
    if len(np.unique(y)) < 2:
        return {"tstr_auc": None, "trtr_auc": None}  # one class in this group: AUC undefined
    name = MODELS[0]
    return {"tstr_auc": classification_scores(y, scores.proba[(name, "tstr")][in_group])["auc"],
            "trtr_auc": classification_scores(y, scores.proba[(name, "trtr")][in_group])["auc"]}


def subgroup_errors(*, real: pd.DataFrame, synthetic: pd.DataFrame, schema: TableSchema,
                    scores: LabelScores | None = None) -> dict:
    """For each declared sensitive categorical column: per group (declared category), its
    share error and the mean TV distance of every other column's marginal within the group
    (1 when the synthetic rows lack the group); with ``scores``, TSTR and TRTR AUC inside it.

    Reads private values, not DP; internal, aggregated. ``real`` is the holdout.
    """
    sensitive = [c for c in schema.modelled_columns if "sensitive" in c.roles and c.value_set is not None]
    if not sensitive:
        return {"skipped": "the schema declares no sensitive column with declared categories"}
    others = {c.name: discrete_codes([real, synthetic], c) for c in schema.modelled_columns}
    result, worst = {}, []
    for col in sensitive:
        (rg, sg), kg = others[col.name]
        n_real, n_synth = np.bincount(rg, minlength=kg), np.bincount(sg, minlength=kg)
        tv = [_group_tv(rg, sg, rc, sc, kg, kc) for name, ((rc, sc), kc) in others.items() if name != col.name]
        error = np.mean(tv, axis=0) if tv else np.zeros(kg)
        error = np.where(n_synth == 0, 1.0, error)
        names = list(col.value_set) + ["<undeclared>", "<missing>"]
        groups = []
        for g in np.flatnonzero(n_real > 0):
            groups.append({"group": names[g], "real_rows": int(n_real[g]), "synthetic_rows": int(n_synth[g]),
                           "share_error": float(abs(n_real[g] / len(rg) - n_synth[g] / max(len(sg), 1))),
                           "marginal_error": float(error[g]), **_group_tstr(scores, rg, g)})
        gated = [g["marginal_error"] for g in groups if g["real_rows"] >= MIN_GROUP_ROWS]
        worst += gated
        result[col.name] = {
            "groups": len(groups),
            "missing_in_synthetic": sum(g["synthetic_rows"] == 0 for g in groups),
            "worst_marginal_error": float(max(gated)) if gated else None,
            "smallest_groups": sorted(groups, key=lambda g: (g["real_rows"], g["group"]))[:SMALLEST_GROUPS],
            "worst_groups": sorted(groups, key=lambda g: -g["marginal_error"])[:SMALLEST_GROUPS],
        }
    return {"columns": result, "max_marginal_error": float(max(worst)) if worst else None,
            "min_group_rows_gated": MIN_GROUP_ROWS}
