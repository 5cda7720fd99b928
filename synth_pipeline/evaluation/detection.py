"""Detection: how well a classifier tells real rows from synthetic ones (SDMetrics' LogisticDetection).

Reads private values, not DP; internal, aggregated: only the cross-validated AUC leaves.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold

from synth_pipeline.evaluation.features import AuditInputError, distance_matrix, subsample
from synth_pipeline.evaluation.stats import auc_with_ci
from synth_pipeline.schema import TableSchema

FOLDS = 3


def detection(*, real: pd.DataFrame, synthetic: pd.DataFrame, schema: TableSchema, seed: int = 0,
              max_rows: int = 10_000) -> dict:
    """Out-of-fold AUC of a logistic regression separating real from synthetic rows.

    Reads private values, not DP; internal, aggregated. Both sides are subsampled to the
    same size (at most ``max_rows``), so chance is 0.5. ``score`` is SDMetrics' convention:
    1 − (2·max(AUC, 0.5) − 1), 1 when indistinguishable. Features: numeric scaled by the
    declared bounds with missing flags, categories one-hot (undeclared ones share a slot).
    """
    rng = np.random.default_rng(seed)
    n = min(len(real), len(synthetic), max_rows)
    if n < FOLDS:
        raise AuditInputError(f"detection needs at least {FOLDS} real and {FOLDS} synthetic rows")
    columns = schema.modelled_columns
    x = np.vstack([distance_matrix(subsample(real, n, rng), columns),
                   distance_matrix(subsample(synthetic, n, rng), columns)])
    y = np.r_[np.zeros(n, dtype=int), np.ones(n, dtype=int)]
    scores = np.zeros(len(y))
    for fit_idx, test_idx in StratifiedKFold(FOLDS, shuffle=True, random_state=seed).split(x, y):
        model = LogisticRegression(max_iter=500)
        model.fit(x[fit_idx], y[fit_idx])
        scores[test_idx] = model.decision_function(x[test_idx])
    result = auc_with_ci(y == 1, scores)
    return {"auc": result["auc"], "auc_ci": result["ci"], "score": 1.0 - (2 * max(result["auc"], 0.5) - 1),
            "model": "LogisticRegression", "rows_per_side": int(n), "folds": FOLDS}
