"""ML utility: train on synthetic, test on real holdout (TSTR) against train on real (TRTR).

Reads private values, not DP; internal, aggregated: real train and holdout rows are used to
score the synthetic table for the internal review; only aggregate scores leave this module.
Two model families, as is usual: HistGradientBoosting (native categories) and logistic
regression (one-hot, bounds-scaled numeric features).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, f1_score, roc_auc_score

from synth_pipeline.evaluation.features import AuditInputError, distance_matrix, model_frame, subsample
from synth_pipeline.schema import TableSchema

MODELS = ("hist_gradient_boosting", "logistic_regression")


@dataclass
class LabelScores:
    """Holdout predictions of each (model, regime); regime is 'trtr' or 'tstr'. Internal only."""

    label: str
    holdout_rows: np.ndarray  # positions in the holdout with a known label
    y_test: np.ndarray
    proba: dict = field(default_factory=dict)  # (model, regime) -> probabilities, or None (one class)
    notes: dict = field(default_factory=dict)


def _target(frame: pd.DataFrame, label: str, positive: str) -> tuple[pd.DataFrame, np.ndarray]:
    frame = frame.loc[frame[label].notna().to_numpy()]
    return frame, (frame[label].astype("string") == positive).to_numpy()


def _fit_predict(name: str, train: pd.DataFrame, y: np.ndarray, test: pd.DataFrame, features, seed: int):
    if name == "hist_gradient_boosting":
        model = HistGradientBoostingClassifier(random_state=seed, categorical_features="from_dtype")
        model.fit(model_frame(train, features), y)
        return model.predict_proba(model_frame(test, features))[:, 1]
    model = LogisticRegression(max_iter=1000)
    model.fit(distance_matrix(train, features), y)
    return model.predict_proba(distance_matrix(test, features))[:, 1]


def label_scores(*, real_train: pd.DataFrame, holdout: pd.DataFrame, synthetic: pd.DataFrame,
                 schema: TableSchema, seed: int = 0, max_rows: int = 20_000) -> LabelScores:
    """Fit each model on real train (TRTR) and on synthetic rows (TSTR); predict the holdout.

    Reads private values, not DP; internal. Training sets are subsampled to ``max_rows``.
    """
    label = schema.label
    positive = schema.positive_label or schema.column(label).value_set[-1]  # booleans: "true"
    features = [c for c in schema.modelled_columns if c.name != label]
    known = holdout[label].notna().to_numpy()
    test, y_test = _target(holdout, label, positive)
    if len(np.unique(y_test)) < 2:
        raise AuditInputError(f"the holdout holds one class of {label!r}: AUC is undefined; use a larger holdout")
    scores = LabelScores(label=label, holdout_rows=np.flatnonzero(known), y_test=y_test)
    rng = np.random.default_rng(seed)
    for regime, source in (("trtr", real_train), ("tstr", synthetic)):
        train, y_train = _target(subsample(source, max_rows, rng), label, positive)
        if len(np.unique(y_train)) < 2:
            # A generator that emits one class has no utility for this task: chance-level scores.
            scores.notes[regime] = "one class in training data"
            majority = float(y_train[0]) if len(y_train) else 0.0
            for name in MODELS:
                scores.proba[(name, regime)] = np.full(len(y_test), majority)
            continue
        for name in MODELS:
            scores.proba[(name, regime)] = _fit_predict(name, train, y_train, test, features, seed)
    return scores


def classification_scores(y: np.ndarray, proba: np.ndarray) -> dict:
    """AUC (0.5 when the scores are constant), accuracy and F1 of the positive class at 0.5."""
    auc = float(roc_auc_score(y, proba)) if np.ptp(proba) > 0 else 0.5
    predicted = proba >= 0.5
    return {"auc": auc, "accuracy": float(accuracy_score(y, predicted)),
            "f1": float(f1_score(y, predicted, zero_division=0.0))}


def tstr_summary(scores: LabelScores) -> dict:
    """Per model: TRTR and TSTR scores and the TSTR/TRTR AUC ratio; HistGradientBoosting's
    figures are also the headline keys (``tstr_auc``, ``trtr_auc``, ``auc_ratio``, …)."""
    models = {}
    for name in MODELS:
        trtr = classification_scores(scores.y_test, scores.proba[(name, "trtr")])
        tstr = classification_scores(scores.y_test, scores.proba[(name, "tstr")])
        models[name] = {"trtr": trtr, "tstr": tstr, "auc_ratio": tstr["auc"] / max(trtr["auc"], 1e-12)}
    head = models["hist_gradient_boosting"]
    return {
        "label": scores.label,
        "model": "HistGradientBoostingClassifier",
        "trtr_auc": head["trtr"]["auc"], "tstr_auc": head["tstr"]["auc"], "auc_ratio": head["auc_ratio"],
        "trtr_accuracy": head["trtr"]["accuracy"], "tstr_accuracy": head["tstr"]["accuracy"],
        "trtr_f1": head["trtr"]["f1"], "tstr_f1": head["tstr"]["f1"],
        "logistic_auc_ratio": models["logistic_regression"]["auc_ratio"],
        "models": models,
        **({"note": scores.notes["tstr"]} if "tstr" in scores.notes else {}),
    }


def tstr(*, real_train: pd.DataFrame, holdout: pd.DataFrame, synthetic: pd.DataFrame, schema: TableSchema,
         seed: int = 0, max_rows: int = 20_000) -> dict:
    """TSTR against TRTR on the declared label. Reads private values, not DP; internal, aggregated."""
    if schema.label is None:
        return {"skipped": "the schema declares no label column"}
    return tstr_summary(label_scores(real_train=real_train, holdout=holdout, synthetic=synthetic,
                                     schema=schema, seed=seed, max_rows=max_rows))
