"""Fidelity in the SDMetrics convention: column shapes, column-pair trends, their mean.

Reads private values, not DP: the real table is compared with the synthetic one for the
internal review; only aggregate scores leave this module. Numeric columns are binned by
their declared bounds (public) for contingency tables.
"""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
from scipy.stats import ks_2samp

from synth_pipeline.schema import ColumnSpec, TableSchema

PAIR_BINS = 10


def _numeric(frame: pd.DataFrame, col: ColumnSpec) -> np.ndarray:
    values = pd.to_numeric(frame[col.name], errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    return values[np.isfinite(values)]


def _discrete(frame: pd.DataFrame, col: ColumnSpec) -> pd.Series:
    """Categories as text; numeric columns cut into PAIR_BINS bins over their declared bounds."""
    if col.is_numeric:
        lo, hi = col.bounds
        values = pd.to_numeric(frame[col.name], errors="coerce")
        return pd.cut(values.clip(lo, hi), bins=np.linspace(lo, hi, PAIR_BINS + 1), include_lowest=True,
                      labels=False).astype("string").fillna("<missing>")
    return frame[col.name].astype("string").fillna("<missing>")


def column_shape(real: pd.DataFrame, synthetic: pd.DataFrame, col: ColumnSpec) -> float:
    """KS complement (numeric) or TV complement (categorical): 1 is identical."""
    if col.is_numeric:
        r, s = _numeric(real, col), _numeric(synthetic, col)
        if not len(r) or not len(s):
            return 0.0
        return 1.0 - float(ks_2samp(r, s).statistic)
    p = _discrete(real, col).value_counts(normalize=True)
    q = _discrete(synthetic, col).value_counts(normalize=True)
    return 1.0 - 0.5 * float(p.subtract(q, fill_value=0).abs().sum())


def pair_trend(real: pd.DataFrame, synthetic: pd.DataFrame, a: ColumnSpec, b: ColumnSpec) -> float:
    """Correlation similarity (two numeric columns) or contingency similarity (otherwise)."""
    if a.is_numeric and b.is_numeric:
        def corr(frame):
            pair = frame[[a.name, b.name]].apply(pd.to_numeric, errors="coerce").dropna()
            if len(pair) < 2 or pair[a.name].std() == 0 or pair[b.name].std() == 0:
                return 0.0
            return float(pair[a.name].corr(pair[b.name]))
        return 1.0 - abs(corr(real) - corr(synthetic)) / 2
    def table(frame):
        return pd.crosstab(_discrete(frame, a), _discrete(frame, b), normalize=True).stack()
    return 1.0 - 0.5 * float(table(real).subtract(table(synthetic), fill_value=0).abs().sum())


def quality(real: pd.DataFrame, synthetic: pd.DataFrame, schema: TableSchema) -> dict:
    """Column shapes, column-pair trends and the overall quality score (their mean)."""
    columns = [c for c in schema.modelled_columns if not c.is_numeric or c.bounds is not None]
    shapes = {c.name: column_shape(real, synthetic, c) for c in columns}
    pairs = {f"{a.name}|{b.name}": pair_trend(real, synthetic, a, b) for a, b in itertools.combinations(columns, 2)}
    shape_score = float(np.mean(list(shapes.values()))) if shapes else float("nan")
    pair_score = float(np.mean(list(pairs.values()))) if pairs else float("nan")
    worst = sorted(pairs.items(), key=lambda kv: kv[1])[:5]
    return {
        "column_shapes": shape_score,
        "column_pair_trends": pair_score,
        "quality_score": float(np.nanmean([shape_score, pair_score])),
        "per_column": shapes,
        "worst_pairs": dict(worst),
    }
