"""Confidence intervals shared by the attacks: Wilson rates, residual risk, AUC.

Pure arithmetic on counts and scores; reads no rows.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.stats import norm
from sklearn.metrics import roc_auc_score

from synth_pipeline.evaluation.features import AuditInputError


# A gate decides at this confidence, one-sided: the risk is below its ceiling with 95%
# confidence when the one-sided upper bound is (the reported intervals stay two-sided 95%).
GATE_CONFIDENCE = 0.95


def _z(confidence: float) -> float:
    if not 0.0 < confidence < 1.0:
        raise AuditInputError(f"confidence must lie in (0, 1), got {confidence}")
    return float(norm.ppf(0.5 * (1.0 + confidence)))


def wilson(successes: int, trials: int, *, confidence: float = 0.95) -> tuple[float, float]:
    """Success rate as the Wilson score centre and its half-width (Wilson 1927), as in Giomi et al."""
    if trials < 1:
        raise AuditInputError("a success rate needs at least one trial")
    z = _z(confidence)
    z2 = z * z
    denominator = trials + z2
    rate = (successes + 0.5 * z2) / denominator
    error = (z / denominator) * math.sqrt(successes * (trials - successes) / trials + 0.25 * z2)
    return rate, error


def residual_risk(*, attack_successes: int, attack_trials: int, control_successes: int, control_trials: int,
                  confidence: float = 0.95) -> dict:
    """Giomi et al. (PoPETs 2023): risk = (attack − control) / (1 − control), rates by Wilson,
    the error propagated from both rates; risk and interval bound to [0, 1]."""
    attack, attack_err = wilson(attack_successes, attack_trials, confidence=confidence)
    control, control_err = wilson(control_successes, control_trials, confidence=confidence)
    margin = max(1.0 - control, 1e-12)
    risk = (attack - control) / margin
    error = math.sqrt((attack_err / margin) ** 2 + (control_err * (attack - 1.0) / margin ** 2) ** 2)

    def bound(x: float) -> float:
        return float(min(max(x, 0.0), 1.0))

    # The gates' one-sided 95% upper bound: the same error at the one-sided z (1.645).
    upper = risk + error * _z(2 * GATE_CONFIDENCE - 1) / _z(confidence)
    return {"risk": bound(risk), "ci": [bound(risk - error), bound(risk + error)], "upper": bound(upper),
            "attack_rate": float(attack), "control_rate": float(control),
            "attacks": int(attack_trials), "controls": int(control_trials)}


def share_ci(share: float, trials: int, *, confidence: float = 0.95) -> list[float]:
    """A Wilson interval around a share observed over ``trials`` (ties counted as halves);
    ``share_upper`` is the gates' one-sided bound."""
    centre, error = wilson(int(round(share * trials)), trials, confidence=confidence)
    return [float(max(0.0, centre - error)), float(min(1.0, centre + error))]


def share_upper(share: float, trials: int) -> float:
    """The one-sided upper Wilson bound of a share, at the gates' confidence."""
    return share_ci(share, trials, confidence=2 * GATE_CONFIDENCE - 1)[1]


def difference_ci(p1: float, n1: int, p2: float, n2: int, *, confidence: float = 0.95) -> list[float]:
    """Normal interval of a difference of two rates p1 − p2 observed over n1 and n2 trials."""
    if n1 < 1 or n2 < 1:
        raise AuditInputError("a difference of rates needs at least one trial per side")
    half = _z(confidence) * math.sqrt(p1 * (1 - p1) / n1 + p2 * (1 - p2) / n2)
    return [float(p1 - p2 - half), float(p1 - p2 + half)]


def difference_upper(p1: float, n1: int, p2: float, n2: int) -> float:
    """The one-sided upper bound of p1 − p2, at the gates' confidence."""
    return difference_ci(p1, n1, p2, n2, confidence=2 * GATE_CONFIDENCE - 1)[1]


def auc_with_ci(labels: np.ndarray, scores: np.ndarray, *, confidence: float = 0.95) -> dict:
    """ROC AUC with the Hanley & McNeil (1982) standard error; needs both classes."""
    labels = np.asarray(labels, dtype=bool)
    n_pos, n_neg = int(labels.sum()), int((~labels).sum())
    if n_pos < 1 or n_neg < 1:
        raise AuditInputError("an AUC needs at least one positive and one negative example")
    auc = float(roc_auc_score(labels, scores))
    q1, q2 = auc / (2 - auc), 2 * auc * auc / (1 + auc)
    variance = (auc * (1 - auc) + (n_pos - 1) * (q1 - auc ** 2) + (n_neg - 1) * (q2 - auc ** 2)) / (n_pos * n_neg)
    se = math.sqrt(max(variance, 0.0))
    half = _z(confidence) * se
    return {"auc": auc, "ci": [max(0.0, auc - half), min(1.0, auc + half)],
            "upper": min(1.0, auc + _z(2 * GATE_CONFIDENCE - 1) * se)}
