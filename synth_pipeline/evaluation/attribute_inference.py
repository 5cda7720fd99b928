"""Attribute inference: a model trained on the synthetic table guesses a sensitive column
from the quasi-identifiers; does it guess better for training rows than for fresh rows?

Reads private values, not DP; internal, aggregated: only accuracies (hit rates) leave this
module, never a guessed or true value.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor

from synth_pipeline.evaluation.features import AuditInputError, discrete_codes, model_frame, numeric_values, subsample
from synth_pipeline.evaluation.stats import difference_ci, difference_upper
from synth_pipeline.schema import ColumnSpec, TableSchema

NUMERIC_TOLERANCE = 0.05  # a numeric guess hits within 5% of the declared range


def known_columns(schema: TableSchema, secret: ColumnSpec) -> list[ColumnSpec]:
    """The attacker's knowledge: the declared quasi-identifiers, else every other column."""
    others = [c for c in schema.modelled_columns if c.name != secret.name]
    quasi = [c for c in others if "quasi_identifier" in c.roles]
    return quasi or others


def _hits(secret: ColumnSpec, train: pd.DataFrame, targets: list[pd.DataFrame], known, seed: int):
    """Hit indicators of the model's guesses on each target frame, and of a constant baseline."""
    if secret.is_numeric:
        y = numeric_values(train, secret)
        keep = ~np.isnan(y)
        lo, hi = secret.bounds if secret.bounds is not None else (np.nanmin(y), np.nanmax(y))
        tolerance = NUMERIC_TOLERANCE * max(hi - lo, 1e-12)
        model = HistGradientBoostingRegressor(random_state=seed, categorical_features="from_dtype")
        model.fit(model_frame(train.loc[keep], known), y[keep])
        truths = [numeric_values(t, secret) for t in targets]
        guesses = [model.predict(model_frame(t, known)) for t in targets]
        baseline = float(np.median(y[keep]))
        return ([np.abs(g - t) <= tolerance for g, t in zip(guesses, truths)],
                [np.abs(baseline - t) <= tolerance for t in truths])
    codes, _ = discrete_codes([train, *targets], secret)
    y, truths = codes[0], codes[1:]
    majority = int(np.bincount(y).argmax())
    baseline = [t == majority for t in truths]
    if len(np.unique(y)) < 2:
        return [t == y[0] for t in truths], baseline
    model = HistGradientBoostingClassifier(random_state=seed, categorical_features="from_dtype")
    model.fit(model_frame(train, known), y)
    return [model.predict(model_frame(frame, known)) == truth for frame, truth in zip(targets, truths)], baseline


def attribute_inference(*, real_train: pd.DataFrame, holdout: pd.DataFrame, synthetic: pd.DataFrame,
                        schema: TableSchema, seed: int = 0, max_rows: int = 5_000,
                        max_synthetic: int = 10_000) -> dict:
    """Per declared sensitive column: hit rate on members (training rows), on non-members
    (holdout rows, the control) and of the baseline (the synthetic majority or median).
    The attacker's model learns from at most ``max_synthetic`` synthetic rows.

    Reads private values, not DP; internal, aggregated. ``advantage`` = members − non-members:
    what the synthetic table teaches about the people in it beyond the population pattern.
    """
    if not any("sensitive" in c.roles for c in schema.modelled_columns):
        return {"skipped": "the schema declares no sensitive column"}
    rng = np.random.default_rng(seed)
    n = min(len(real_train), len(holdout), max_rows)
    if n < 1 or len(synthetic) < 1:
        raise AuditInputError("attribute inference needs at least 1 training, 1 holdout and 1 synthetic row")
    members, non_members = subsample(real_train, n, rng), subsample(holdout, n, rng)
    train = subsample(synthetic, max_synthetic, rng)
    columns = {}
    for secret in (c for c in schema.modelled_columns if "sensitive" in c.roles):
        known = known_columns(schema, secret)
        if not known:
            continue
        (hit_m, hit_n), (base_m, base_n) = _hits(secret, train, [members, non_members], known, seed)
        columns[secret.name] = {
            "known_columns": len(known), "members_accuracy": float(np.mean(hit_m)),
            "non_members_accuracy": float(np.mean(hit_n)), "baseline_accuracy": float(np.mean(base_n)),
            "advantage": float(np.mean(hit_m) - np.mean(hit_n)),
            "advantage_ci": difference_ci(float(np.mean(hit_m)), len(hit_m), float(np.mean(hit_n)), len(hit_n)),
            "advantage_upper": difference_upper(float(np.mean(hit_m)), len(hit_m), float(np.mean(hit_n)),
                                                len(hit_n)),
        }
    advantages = [c["advantage"] for c in columns.values()]
    uppers = [c["advantage_upper"] for c in columns.values()]
    return {"columns": columns, "max_advantage": float(max(advantages)) if advantages else None,
            "max_advantage_upper": float(max(uppers)) if uppers else None,
            "targets_per_side": int(n), "model": "HistGradientBoosting"}
