"""Linkability and inference risks after Giomi et al. (PoPETs 2023, the method of anonymeter).

Both attacks use the synthetic table as a lookup: for a target person, find the nearest
synthetic rows on what the attacker knows. Success on training rows is compared with
success on control rows (the holdout): risk = (attack − control) / (1 − control), Wilson
intervals.

Reads private values, not DP; internal, aggregated: only counts and rates leave this
module, never a target, a neighbour or a guessed value.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.neighbors import NearestNeighbors

from synth_pipeline.evaluation.features import AuditInputError, discrete_codes, distance_matrix, numeric_values, subsample
from synth_pipeline.evaluation.stats import residual_risk
from synth_pipeline.schema import ColumnSpec, TableSchema

NUMERIC_TOLERANCE = 0.05  # an inferred number is right within 5% of the declared range


def _neighbours(synthetic: pd.DataFrame, targets: list[pd.DataFrame], columns: list[ColumnSpec], k: int):
    index = NearestNeighbors(n_neighbors=min(k, len(synthetic))).fit(distance_matrix(synthetic, columns))
    return [index.kneighbors(distance_matrix(t, columns), return_distance=False) for t in targets]


def linkability_columns(schema: TableSchema) -> tuple[list[ColumnSpec], list[ColumnSpec]]:
    """Two disjoint views of a person: the declared quasi-identifiers and the other
    non-sensitive columns; without a usable declaration, the columns split alternately."""
    columns = [c for c in schema.modelled_columns if "sensitive" not in c.roles] or schema.modelled_columns
    quasi = [c for c in columns if "quasi_identifier" in c.roles]
    rest = [c for c in columns if "quasi_identifier" not in c.roles]
    if quasi and rest:
        return quasi, rest
    return columns[0::2], columns[1::2]


def _targets(real_train, holdout, n_attacks, max_rows, rng):
    n = min(len(real_train), len(holdout), n_attacks, max_rows)
    if n < 1:
        raise AuditInputError("the attack needs at least 1 training row and 1 holdout row")
    return subsample(real_train, n, rng), subsample(holdout, n, rng), n


def linkability(*, real_train: pd.DataFrame, holdout: pd.DataFrame, synthetic: pd.DataFrame,
                schema: TableSchema, seed: int = 0, n_attacks: int = 2_000, n_neighbors: int = 1,
                max_rows: int = 5_000, max_synthetic: int = 20_000) -> dict:
    """Can a record known in two parts (two disjoint column sets) be joined through the
    synthetic table? A success: the same synthetic row is among the ``n_neighbors`` nearest
    to both parts. Reads private values, not DP; internal, aggregated."""
    rng = np.random.default_rng(seed)
    first, second = linkability_columns(schema)
    if not first or not second or len(synthetic) < 1:
        return {"skipped": "linkability needs two column sets and at least one synthetic row"}
    members, control, n = _targets(real_train, holdout, n_attacks, max_rows, rng)
    synth = subsample(synthetic, max_synthetic, rng)
    near_a = _neighbours(synth, [members, control], first, n_neighbors)
    near_b = _neighbours(synth, [members, control], second, n_neighbors)
    linked = [sum(bool(set(a) & set(b)) for a, b in zip(na, nb)) for na, nb in zip(near_a, near_b)]
    return {**residual_risk(attack_successes=linked[0], attack_trials=n, control_successes=linked[1],
                            control_trials=n),
            "columns_per_side": [len(first), len(second)], "n_neighbors": n_neighbors}


def _correct(secret: ColumnSpec, guesses: pd.DataFrame, truths: pd.DataFrame) -> np.ndarray:
    if secret.is_numeric:
        guessed, true = numeric_values(guesses, secret), numeric_values(truths, secret)
        if secret.bounds is not None:
            lo, hi = secret.bounds
        else:  # undeclared range: the targets' own (internal; only hit counts leave)
            finite = true[np.isfinite(true)]
            lo, hi = (finite.min(), finite.max()) if len(finite) else (0.0, 1.0)
        return np.abs(guessed - true) <= NUMERIC_TOLERANCE * max(hi - lo, 1e-12)
    (g, t), _ = discrete_codes([guesses, truths], secret)
    return g == t


def inference(*, real_train: pd.DataFrame, holdout: pd.DataFrame, synthetic: pd.DataFrame,
              schema: TableSchema, seed: int = 0, max_targets: int = 20_000, max_synthetic: int = 20_000) -> dict:
    """Per declared sensitive column: knowing every other column, guess the secret from the
    nearest synthetic row. Also the baseline of a guess from a random synthetic row. ``risk``
    is the largest over the columns, ``risk_upper`` the largest one-sided 95% bound.

    An easily guessed secret (a binary label) leaves a small margin 1 − control, which
    widens the interval by 1 / (1 − control), so this attack takes up to ``max_targets`` rows
    of EACH side, not the same number: the training rows outnumber the holdout, and every
    extra member narrows the attack rate's share of the interval (on the demo's Adult split,
    about a fifth of its width). Reads private values, not DP; internal, aggregated."""
    rng = np.random.default_rng(seed)
    secrets = [c for c in schema.modelled_columns if "sensitive" in c.roles]
    if not secrets:
        return {"skipped": "the schema declares no sensitive column"}
    if len(real_train) < 1 or len(holdout) < 1:
        raise AuditInputError("the attack needs at least 1 training row and 1 holdout row")
    members = subsample(real_train, min(len(real_train), max_targets), rng)
    control = subsample(holdout, min(len(holdout), max_targets), rng)
    n, n_control = len(members), len(control)
    synth = subsample(synthetic, max_synthetic, rng).reset_index(drop=True)
    columns = {}
    for secret in secrets:
        known = [c for c in schema.modelled_columns if c.name != secret.name]
        if not known:
            continue
        near = _neighbours(synth, [members, control], known, 1)
        hits = [int(_correct(secret, synth.iloc[nb[:, 0]], t.reset_index(drop=True)).sum())
                for nb, t in zip(near, (members, control))]
        random_rows = synth.iloc[rng.integers(0, len(synth), size=n)].reset_index(drop=True)
        baseline = float(_correct(secret, random_rows, members.reset_index(drop=True)).mean())
        columns[secret.name] = {**residual_risk(attack_successes=hits[0], attack_trials=n,
                                                control_successes=hits[1], control_trials=n_control),
                                "baseline_rate": baseline}
    risks = [c["risk"] for c in columns.values()]
    uppers = [c["upper"] for c in columns.values()]
    return {"risk": float(max(risks)) if risks else None,
            "risk_upper": float(max(uppers)) if uppers else None, "columns": columns}
