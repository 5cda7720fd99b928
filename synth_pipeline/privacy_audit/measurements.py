"""Measurement canaries: a white-box audit of the marginal generators' Gaussian
measurements (AIM, MST), the counterpart of the gradient canaries of DP-SGD.

Each of m canaries is a row's worst case in one measurement: +1 in a cell of its own (a
count vector has L2 sensitivity 1 under add/remove); with a person unit of at most k rows,
a canary person's worst case: +k in a cell of its own. A canary is in the run with
probability 1/2 (seeded coin flips). Every Gaussian measurement the mechanism takes also
measures the canaries' cells, through the same noise code (``ZcdpBudget.add_noise``), at the
σ the mechanism chose and from the same secret source: the auditor, being white box, sees
each noisy canary cell (what is left once the data's own counts are taken off) and scores
each canary by the log-likelihood ratio of "present" against "absent" summed over all
measurements. It thereby checks the noise actually added and the ρ the measurements charge
(Σ 1/(2σ²)) directly; the exponential mechanism's picks are not audited (the canaries take
no part in selection). With no noise (a broken mechanism) the score is the plain sum.

Reads private values, NOT DP: it observes a fit on the training rows, like the rest of the
audit (internal, never released, nothing charged).
"""

from __future__ import annotations

import numpy as np


class MeasurementCanaries:
    """Attach with ``zcdp.measurement_observer``; ``scores()`` after the fit."""

    def __init__(self, included: np.ndarray, *, rows_per_unit: int = 1):
        self.included = np.asarray(included, dtype=bool)
        # The audit's own k (the schema's), never the mechanism's: a mechanism that calibrated
        # to fewer rows than a person has is what it must catch.
        self.k = float(rows_per_unit)
        self.score = np.zeros(len(self.included))
        self.measurements = 0

    def __call__(self, budget, sigma: float, rng) -> None:
        k = self.k
        observed = budget.add_noise(k * self.included.astype(float), sigma=sigma, rng=rng)
        self.measurements += 1
        if sigma <= 0:
            self.score += observed
        else:
            self.score += k * (observed - 0.5 * k) / sigma ** 2  # log N(x; k, σ²) − log N(x; 0, σ²)

    def scores(self) -> np.ndarray:
        if not self.measurements:
            raise RuntimeError("the measurement canaries saw no Gaussian measurement: the generator took none")
        return self.score.copy()
