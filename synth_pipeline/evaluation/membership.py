"""Membership inference: can an attacker holding the synthetic table tell training rows
from fresh real rows? A DOMIAS-style density-ratio attack (van Breugel et al., AISTATS 2023).

Reads private values, not DP; internal, aggregated: only the AUC, its interval and counts
leave this module.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.neighbors import NearestNeighbors

from synth_pipeline.evaluation.features import AuditInputError, distance_matrix, subsample
from synth_pipeline.evaluation.stats import auc_with_ci
from synth_pipeline.schema import TableSchema

EPS = 1e-6  # keeps log-distances finite where a row has an exact twin


def membership_inference(*, real_train: pd.DataFrame, holdout: pd.DataFrame, synthetic: pd.DataFrame,
                         schema: TableSchema, seed: int = 0, max_rows: int = 2_500,
                         max_synthetic: int = 20_000) -> dict:
    """AUC of the attack separating members (training rows) from non-members (holdout rows).

    Reads private values, not DP; internal, aggregated. The holdout is halved: one half is
    the attacker's reference sample of the population, the other the non-members; as many
    training rows are the members. A row's score is the log ratio of the synthetic density
    to the reference density at it, each estimated from the distance to its nearest
    neighbour (k-NN density: the common factors cancel in a ranking), so rows the generator
    over-represents (memorised) score high. 0.5 is chance; the interval is Hanley–McNeil.
    """
    rng = np.random.default_rng(seed)
    half = len(holdout) // 2
    n = min(half, len(holdout) - half, len(real_train), max_rows)
    if n < 1 or len(synthetic) < 1:
        raise AuditInputError("membership inference needs at least 2 holdout rows, 1 training row and 1 synthetic row")
    columns = schema.modelled_columns
    order = rng.permutation(len(holdout))
    reference = holdout.iloc[np.sort(order[:half])]
    non_members = holdout.iloc[np.sort(order[half:])]
    targets = pd.concat([subsample(real_train, n, rng), subsample(non_members, n, rng)], ignore_index=True)
    target_x = distance_matrix(targets, columns)

    def nearest(frame: pd.DataFrame) -> np.ndarray:
        index = NearestNeighbors(n_neighbors=1).fit(distance_matrix(frame, columns))
        return index.kneighbors(target_x)[0][:, 0]

    score = np.log(nearest(reference) + EPS) - np.log(nearest(subsample(synthetic, max_synthetic, rng)) + EPS)
    result = auc_with_ci(np.r_[np.ones(n, bool), np.zeros(n, bool)], score)
    return {"auc": result["auc"], "auc_ci": result["ci"], "auc_upper": result["upper"], "members": int(n), "non_members": int(n),
            "reference_rows": int(half), "attack": "DOMIAS-style k-NN density ratio"}
