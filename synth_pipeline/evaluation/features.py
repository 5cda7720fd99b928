"""Feature matrices for the audit, built with public schema facts only.

The frames passed in are private (real train and holdout) or synthetic; the encodings use
the declared bounds and categories, never values read from the rows.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from synth_pipeline.schema import ColumnSpec

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
    bounds (plus a missing flag), categories one-hot scaled so that a mismatch adds 1."""
    parts = []
    for c in columns:
        if c.is_numeric:
            values = pd.to_numeric(frame[c.name], errors="coerce").to_numpy(dtype=float, na_value=np.nan)
            missing = ~np.isfinite(values)
            lo, hi = c.bounds if c.bounds is not None else (0.0, 1.0)
            scaled = (np.clip(np.where(missing, lo, values), lo, hi) - lo) / (hi - lo)
            parts.append(scaled[:, None])
            if c.nullable:  # by the schema, so every frame gets the same columns
                parts.append(missing[:, None].astype(float))
        else:
            cats = list(c.value_set) if c.value_set is not None else []
            codes = pd.Categorical(frame[c.name].astype("string").astype(object), categories=cats).codes
            onehot = np.zeros((len(frame), len(cats) + 1))
            onehot[np.arange(len(frame)), np.where(codes < 0, len(cats), codes)] = 1 / np.sqrt(2)
            parts.append(onehot)
    return np.hstack(parts) if parts else np.zeros((len(frame), 0))
