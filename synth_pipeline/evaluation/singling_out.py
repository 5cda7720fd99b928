"""Singling-out risk after Giomi et al. (PoPETs 2023, the method of anonymeter).

The attacker writes predicates from the synthetic table that single out one synthetic row
(a rare value, an extreme, a combination of a few attributes) and bets that each also
singles out one real person. Success on training rows is compared with success on
control rows (the holdout), which the generator never saw: risk = (attack − control) /
(1 − control), Wilson intervals.

Reads private values, not DP; internal, aggregated: predicates are built and counted in
memory; only counts and rates leave this module, never a predicate or a value.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from synth_pipeline.evaluation.features import AuditInputError, discrete_codes, numeric_values, subsample
from synth_pipeline.evaluation.stats import residual_risk
from synth_pipeline.schema import TableSchema

EQ, LE, GE, NULL = 0, 1, 2, 3


def value_matrix(frames: list[pd.DataFrame], schema: TableSchema) -> list[np.ndarray]:
    """Each frame as floats: numeric values, or category codes; NaN where missing.
    Reads private values, not DP; internal: the matrices never leave this module."""
    columns = schema.modelled_columns
    per_column = []
    for col in columns:
        if col.is_numeric:
            per_column.append([numeric_values(f, col) for f in frames])
        else:
            codes, k = discrete_codes(frames, col)
            per_column.append([np.where(c == k - 1, np.nan, c.astype(float)) for c in codes])
    return [np.column_stack([pc[i] for pc in per_column]) if per_column else np.zeros((len(f), 0))
            for i, f in enumerate(frames)]


def _matches(x: np.ndarray, query: tuple) -> np.ndarray:
    mask = np.ones(len(x), dtype=bool)
    for col, op, value in query:
        v = x[:, col]
        if op == NULL:
            mask &= np.isnan(v)
        elif op == EQ:
            mask &= v == value
        elif op == LE:
            mask &= v <= value
        else:
            mask &= v >= value
    return mask


def _count(x: np.ndarray, query: tuple) -> int:
    return int(_matches(x, query).sum())


def univariate_queries(synth: np.ndarray, numeric: list[bool]) -> list[tuple]:
    """Rare values (held by one synthetic row), a single missing value, and each extreme."""
    queries = []
    for j in range(synth.shape[1]):
        v = synth[:, j]
        present = v[~np.isnan(v)]
        if np.isnan(v).sum() == 1:
            queries.append(((j, NULL, 0.0),))
        if numeric[j] and len(present):
            queries += [((j, LE, float(present.min())),), ((j, GE, float(present.max())),)]
        values, counts = np.unique(present, return_counts=True)
        queries += [((j, EQ, float(u)),) for u in values[counts == 1]]
    return queries


def multivariate_queries(synth: np.ndarray, numeric: list[bool], *, n_cols: int, attempts: int,
                         rng: np.random.Generator) -> list[tuple]:
    """From random synthetic rows and columns: equality on categories, the side of the
    median an extreme lies on for numbers (≤ below it, ≥ above), or 'missing'."""
    medians = [np.nanmedian(synth[:, j]) if numeric[j] and not np.isnan(synth[:, j]).all() else 0.0
               for j in range(synth.shape[1])]
    n_cols = min(n_cols, synth.shape[1])
    queries = []
    for row in rng.integers(0, len(synth), size=attempts):
        query = []
        for j in sorted(rng.choice(synth.shape[1], size=n_cols, replace=False)):
            value = synth[row, j]
            op = NULL if np.isnan(value) else (EQ if not numeric[j] else (GE if value > medians[j] else LE))
            query.append((int(j), op, 0.0 if op == NULL else float(value)))
        queries.append(tuple(query))
    return queries


def singling_out(*, real_train: pd.DataFrame, holdout: pd.DataFrame, synthetic: pd.DataFrame,
                 schema: TableSchema, seed: int = 0, n_attacks: int = 500, n_cols: int = 3,
                 max_rows: int = 5_000, max_synthetic: int = 20_000) -> dict:
    """Univariate and multivariate singling-out risk; ``risk`` and ``ci`` pool both modes'
    predicates into one attack (the univariate mode often finds only a few dozen predicates,
    so its own interval is too wide to decide on; ``worst_mode_risk`` is the larger point
    estimate of the two, reported, not gated).

    Reads private values, not DP; internal, aggregated. The training rows are subsampled to
    the control's size, so that a predicate is as likely to single out in either by chance
    (copies of training rows left out of that subsample dilute the attack: the copy and
    DCR gates cover copying directly).
    """
    rng = np.random.default_rng(seed)
    n = min(len(real_train), len(holdout), max_rows)
    if n < 1 or len(synthetic) < 1:
        raise AuditInputError("singling out needs at least 1 training, 1 holdout and 1 synthetic row")
    ori, control, synth = value_matrix(
        [subsample(real_train, n, rng), subsample(holdout, n, rng), subsample(synthetic, max_synthetic, rng)], schema)
    numeric = [c.is_numeric for c in schema.modelled_columns]
    result, counts = {}, [0, 0, 0]  # pooled over both modes: attacks, hits, controls
    for mode, candidates in (
            ("univariate", univariate_queries(synth, numeric)),
            ("multivariate", multivariate_queries(synth, numeric, n_cols=n_cols, attempts=10 * n_attacks, rng=rng))):
        order = rng.permutation(len(candidates))
        queries, seen = [], set()
        for i in order:  # keep distinct predicates that single out one synthetic row
            q = candidates[i]
            if q not in seen and _count(synth, q) == 1:
                seen.add(q)
                queries.append(q)
                if len(queries) == n_attacks:
                    break
        if not queries:
            result[mode] = {"risk": 0.0, "ci": [0.0, 0.0], "upper": 0.0, "attacks": 0,
                            "note": "no predicate singles out a synthetic row"}
            continue
        hits = sum(_count(ori, q) == 1 for q in queries)
        controls = sum(_count(control, q) == 1 for q in queries)
        result[mode] = residual_risk(attack_successes=hits, attack_trials=len(queries),
                                     control_successes=controls, control_trials=len(queries))
        counts = [counts[0] + len(queries), counts[1] + hits, counts[2] + controls]
    pooled = (residual_risk(attack_successes=counts[1], attack_trials=counts[0], control_successes=counts[2],
                            control_trials=counts[0]) if counts[0] else {"risk": 0.0, "ci": [0.0, 0.0], "upper": 0.0,
                                                                       "attacks": 0})
    return {**result, "pooled": pooled, "risk": pooled["risk"], "ci": pooled["ci"], "upper": pooled["upper"],
            "worst_mode_risk": max(result["univariate"]["risk"], result["multivariate"]["risk"]),
            "targets_per_side": int(n)}
