"""Distance-based privacy risk: distance to closest record (DCR) against a real holdout.

Reads private values, not DP; internal, aggregated: real train and holdout rows are compared with the synthetic
rows for the internal review; only aggregate shares and quantiles leave this module.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.neighbors import NearestNeighbors

from synth_pipeline.evaluation.features import AuditInputError, distance_matrix, subsample
from synth_pipeline.evaluation.stats import share_ci, share_upper
from synth_pipeline.schema import TableSchema


HASH_CHUNK = 5000


def _row_hashes(x: np.ndarray) -> np.ndarray:
    return pd.util.hash_pandas_object(pd.DataFrame(x), index=False).to_numpy()


def dcr(*, real_train: pd.DataFrame, holdout: pd.DataFrame, synthetic: pd.DataFrame, schema: TableSchema,
        seed: int = 0, max_rows: int = 5000, max_queries: int = 2000) -> dict:
    """Distance to closest record against the holdout. Reads private values, not DP; internal, aggregated.

    - ``dcr_share``: share of synthetic rows closer to a training row than to a holdout row,
      with train subsampled to the holdout's size (at most ``max_rows``), so a generator that
      does not copy scores about 0.5 (copies of training rows outside the subsample dilute
      it: see the ratio and the exact matches).
    - ``dcr_ratio``: median distance of synthetic rows to the full training set over that of
      holdout rows (fresh real rows); about 1 without memorisation, near 0 for copies.
    - ``exact_match_share``: synthetic rows identical to a training row (every synthetic and
      every training row, compared by hashes of their encoded rows).
    - ``nndr_median``: nearest over second-nearest distance to the full training set (0 for
      copies of a training row, near 1 for rows no training row stands out for).
    Distances to the full training set are measured for ``max_queries`` rows of each side.
    """
    columns = schema.modelled_columns
    rng = np.random.default_rng(seed)
    n_ref = min(len(real_train), len(holdout), max_rows)
    if n_ref < 2 or len(synthetic) < 1:
        raise AuditInputError("DCR needs at least 2 training rows, 2 holdout rows and 1 synthetic row")

    train_all = distance_matrix(real_train, columns)
    train_x = train_all[np.sort(rng.choice(len(real_train), size=n_ref, replace=False))]
    hold_x = distance_matrix(subsample(holdout, n_ref, rng), columns)
    synth_x = distance_matrix(subsample(synthetic, max_rows, rng), columns)
    nearest_train = NearestNeighbors(n_neighbors=1).fit(train_x).kneighbors(synth_x)[0][:, 0]
    nearest_hold = NearestNeighbors(n_neighbors=1).fit(hold_x).kneighbors(synth_x)[0][:, 0]
    full_train = NearestNeighbors(n_neighbors=min(2, len(real_train))).fit(train_all)
    synth_two = full_train.kneighbors(synth_x[:max_queries])[0]
    hold_full = full_train.kneighbors(hold_x[:max_queries], n_neighbors=1)[0][:, 0]
    closer = np.mean(nearest_train < nearest_hold) + 0.5 * np.mean(nearest_train == nearest_hold)
    with np.errstate(divide="ignore", invalid="ignore"):
        nndr = np.where(synth_two[:, -1] > 0, synth_two[:, 0] / synth_two[:, -1], 1.0)
    train_hashes = _row_hashes(train_all)
    copies = np.concatenate([np.isin(_row_hashes(distance_matrix(synthetic.iloc[i:i + HASH_CHUNK], columns)), train_hashes)
                             for i in range(0, len(synthetic), HASH_CHUNK)])  # in chunks: the audit's memory peak
    return {
        "dcr_share": float(closer),
        "dcr_share_ci": share_ci(float(closer), len(synth_x)),
        "dcr_share_upper": share_upper(float(closer), len(synth_x)),
        "dcr_ratio": float(np.median(synth_two[:, 0]) / max(np.median(hold_full), 1e-12)),
        "exact_match_share": float(np.mean(copies)),
        "median_dcr_train": float(np.median(nearest_train)),
        "median_dcr_holdout": float(np.median(nearest_hold)),
        "nndr_median": float(np.median(nndr)),
        "reference_rows": int(n_ref),
        "synthetic_rows_scored": int(len(synth_x)),
    }
