"""Feature matrices for the audit, built with public schema facts only.

The frames passed in are private (real train and holdout) or synthetic; the encodings use
the declared bounds and categories, never values read from the rows.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from synth_pipeline.schema import ColumnSpec

class AuditInputError(ValueError):
    """The frames cannot support a metric (too few rows, one class): the message says what is
    missing and never quotes a value."""


HGB_MAX_CATEGORIES = 250  # HistGradientBoosting's native categorical support stops at 255 bins


def model_frame(frame: pd.DataFrame, columns: list[ColumnSpec]) -> pd.DataFrame:
    """Columns typed for scikit-learn's HistGradientBoosting: numeric floats, declared categoricals."""
    out = {}
    for c in columns:
        if c.is_numeric:
            values = pd.to_numeric(frame[c.name], errors="coerce").astype("float64")
            out[c.name] = values.replace([np.inf, -np.inf], np.nan)
        else:
            cats = list(c.value_set) if c.value_set is not None else None
            values = pd.Categorical(frame[c.name].astype("string").astype(object), categories=cats)
            if cats is not None and len(cats) > HGB_MAX_CATEGORIES:
                out[c.name] = pd.Series(values.codes, index=frame.index).replace(-1, np.nan).astype("float64")
            else:
                out[c.name] = values
    return pd.DataFrame(out, index=frame.index)


def distance_matrix(frame: pd.DataFrame, columns: list[ColumnSpec]) -> np.ndarray:
    """Rows as points for nearest-neighbour distances: numeric scaled to [0, 1] by the declared
    bounds (plus a missing flag), categories one-hot scaled so that a mismatch adds 1.
    Filled in place: stacking per-column parts held the matrix twice at the audit's peak."""
    widths = [(2 if c.nullable else 1) if c.is_numeric else len(c.value_set or ()) + 1 for c in columns]
    out = np.zeros((len(frame), sum(widths)))
    at = 0
    for c, width in zip(columns, widths):
        if c.is_numeric:
            values = pd.to_numeric(frame[c.name], errors="coerce").to_numpy(dtype=float, na_value=np.nan)
            missing = ~np.isfinite(values)
            lo, hi = c.bounds if c.bounds is not None else (0.0, 1.0)
            out[:, at] = (np.clip(np.where(missing, lo, values), lo, hi) - lo) / (hi - lo)
            if c.nullable:  # by the schema, so every frame gets the same columns
                out[:, at + 1] = missing
        else:
            cats = list(c.value_set) if c.value_set is not None else []
            codes = pd.Categorical(frame[c.name].astype("string").astype(object), categories=cats).codes
            out[np.arange(len(frame)), at + np.where(codes < 0, len(cats), codes)] = 1 / np.sqrt(2)
        at += width
    return out


DISCRETE_BINS = 10  # numeric columns cut into this many equal-width bins over their bounds


def _numeric_values(frame: pd.DataFrame, name: str) -> np.ndarray:
    values = pd.to_numeric(frame[name], errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    return np.where(np.isfinite(values), values, np.nan)


def numeric_values(frame: pd.DataFrame, col: ColumnSpec) -> np.ndarray:
    """A numeric column as floats; missing, unparseable and infinite values are NaN.
    Reads private values, not DP; internal (the audit's aggregates only leave)."""
    return _numeric_values(frame, col.name)


def discrete_codes(frames: list[pd.DataFrame], col: ColumnSpec) -> tuple[list[np.ndarray], int]:
    """One integer code per row, consistent across ``frames``; returns (codes per frame, k).

    Categories: the declared ones, then one code for undeclared values and one for missing.
    Numeric: DISCRETE_BINS bins over the declared bounds (values clipped), then missing.
    Without declared categories or bounds the codes come from the rows themselves. Reads
    private values, not DP; internal: only aggregates computed from the codes leave the audit.
    """
    if col.is_numeric:
        values = [_numeric_values(f, col.name) for f in frames]
        if col.bounds is not None:
            lo, hi = col.bounds
        else:
            finite = np.concatenate([v[np.isfinite(v)] for v in values] + [np.zeros(0)])
            lo, hi = (float(finite.min()), float(finite.max())) if len(finite) else (0.0, 1.0)
        width = (hi - lo) / DISCRETE_BINS if hi > lo else 1.0
        codes = []
        for v in values:
            binned = np.clip(np.floor((np.clip(v, lo, hi) - lo) / width), 0, DISCRETE_BINS - 1)
            codes.append(np.where(np.isnan(v), DISCRETE_BINS, binned).astype(np.int64))
        return codes, DISCRETE_BINS + 1
    texts = [f[col.name].astype("string") for f in frames]
    if col.value_set is not None:
        cats = list(col.value_set)
    else:
        cats = sorted(set().union(*(set(t.dropna().unique()) for t in texts)))
    codes = []
    for t in texts:
        c = pd.Categorical(t.astype(object), categories=cats).codes.astype(np.int64)
        c = np.where(c < 0, len(cats), c)  # undeclared
        codes.append(np.where(t.isna().to_numpy(), len(cats) + 1, c))
    return codes, len(cats) + 2


def subsample(frame: pd.DataFrame, n: int, rng: np.random.Generator) -> pd.DataFrame:
    """At most ``n`` rows, chosen by a seeded permutation (reads no values); order kept."""
    if len(frame) <= n:
        return frame
    return frame.iloc[np.sort(rng.choice(len(frame), size=n, replace=False))]
