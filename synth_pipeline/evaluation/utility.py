"""ML utility: train on synthetic, test on real holdout (TSTR) against train on real (TRTR).

Reads private values, not DP: real train and holdout rows are used to score the synthetic
table for the internal review; only aggregate scores leave this module.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.metrics import accuracy_score, roc_auc_score

from synth_pipeline.evaluation.features import model_frame
from synth_pipeline.schema import TableSchema


def _label_target(frame: pd.DataFrame, label: str, positive: str) -> tuple[pd.DataFrame, np.ndarray]:
    known = frame[label].notna()
    frame = frame.loc[known]
    return frame, (frame[label].astype("string") == positive).to_numpy()


def _fit_score(train: pd.DataFrame, test: pd.DataFrame, schema: TableSchema, seed: int) -> dict:
    label = schema.label
    positive = schema.positive_label or schema.column(label).categories[-1]
    features = [c for c in schema.modelled_columns if c.name != label]
    train, y_train = _label_target(train, label, positive)
    test, y_test = _label_target(test, label, positive)
    if len(np.unique(y_test)) < 2:
        raise ValueError(f"the holdout holds one class of {label!r}: AUC is undefined; use a larger holdout")
    if len(np.unique(y_train)) < 2:
        # A generator that emits one class has no utility for this task: chance-level scores.
        majority = bool(y_train[0]) if len(y_train) else False
        return {"auc": 0.5, "accuracy": float(np.mean(y_test == majority)), "note": "one class in training data"}
    model = HistGradientBoostingClassifier(random_state=seed, categorical_features="from_dtype")
    model.fit(model_frame(train, features), y_train)
    proba = model.predict_proba(model_frame(test, features))[:, 1]
    return {"auc": float(roc_auc_score(y_test, proba)), "accuracy": float(accuracy_score(y_test, proba >= 0.5))}


def tstr(*, real_train: pd.DataFrame, holdout: pd.DataFrame, synthetic: pd.DataFrame, schema: TableSchema,
         seed: int = 0) -> dict:
    """TSTR and TRTR with HistGradientBoosting on the declared label; the ratio is TSTR/TRTR AUC."""
    if schema.label is None:
        return {"skipped": "the schema declares no label column"}
    real = _fit_score(real_train, holdout, schema, seed)
    synth = _fit_score(synthetic, holdout, schema, seed)
    return {
        "label": schema.label,
        "model": "HistGradientBoostingClassifier",
        "trtr_auc": real["auc"],
        "tstr_auc": synth["auc"],
        "auc_ratio": synth["auc"] / real["auc"],
        "trtr_accuracy": real["accuracy"],
        "tstr_accuracy": synth["accuracy"],
        **({"note": synth["note"]} if "note" in synth else {}),
    }
