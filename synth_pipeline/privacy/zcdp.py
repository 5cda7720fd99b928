"""zCDP mechanisms for the marginal-based generators: a ρ budget, Gaussian measurements of
marginals, and the exponential mechanism, with every spend written down.

The privacy unit is one row under add/remove neighbours by default (a person of at most k
rows multiplies every sensitivity by k: ``rows_per_unit``): a count marginal then has L2
sensitivity 1, so a Gaussian measurement with standard deviation σ costs ρ = 1/(2σ²); the
exponential mechanism with parameter ε on a score of sensitivity Δ costs ε²/8 (bounded
range, Cesar & Rogers 2021). Budgets compose by addition; the ledger converts the total ρ
to (ε, δ) once (``accounting.zcdp_epsilon``), as private-pgm does.
"""

from __future__ import annotations

import math
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Callable, Iterator

import numpy as np

# Float slack when the last round spends "all that is left".
_SLACK = 1e-9


# Audit hooks: each is called as ``observer(budget, sigma, rng)`` after every Gaussian
# measurement. Only the privacy audit's measurement canaries use it; releases never do.
_MEASUREMENT_OBSERVERS: list[Callable] = []


@contextmanager
def measurement_observer(observer: Callable) -> Iterator[None]:
    """Within the block, ``observer(budget, sigma, rng)`` sees each Gaussian measurement."""
    _MEASUREMENT_OBSERVERS.append(observer)
    try:
        yield
    finally:
        _MEASUREMENT_OBSERVERS.remove(observer)


class BudgetExceededError(RuntimeError):
    """A mechanism asked for more ρ than is left: a bug in the caller, never silenced."""


@dataclass
class ZcdpBudget:
    """A ρ budget that refuses to overspend and keeps one entry per mechanism run."""

    rho: float
    spends: list[dict] = field(default_factory=list)
    # Replace-one neighbours (n declared public): a count vector moves in two cells (L2
    # sensitivity √2) and a score of sensitivity Δ under add/remove by up to 2Δ.
    replace_one: bool = False
    # A person of at most k rows (contributions bounded first): a count vector moves by up to
    # k in one cell and a score by up to k·Δ.
    rows_per_unit: int = 1

    @property
    def l2_sensitivity(self) -> float:
        return self.rows_per_unit * (math.sqrt(2.0) if self.replace_one else 1.0)

    def sigma_for(self, rho: float) -> float:
        """σ of a Gaussian count measurement that costs exactly ρ under this relation."""
        return self.l2_sensitivity * gaussian_sigma(rho)

    @property
    def spent(self) -> float:
        return math.fsum(s["rho"] for s in self.spends)

    @property
    def remaining(self) -> float:
        return max(0.0, self.rho - self.spent)

    def _charge(self, kind: str, rho: float, **detail) -> None:
        if not rho > 0 or not math.isfinite(rho):
            raise BudgetExceededError(f"{kind}: ρ must be positive and finite, got {rho}")
        if self.spent + rho > self.rho * (1 + _SLACK):
            raise BudgetExceededError(f"{kind} needs ρ={rho:.6g} but only {self.remaining:.6g} of {self.rho:.6g} "
                                      "is left")
        self.spends.append({"mechanism": kind, "rho": rho, **detail})

    def gaussian(self, values: np.ndarray, *, sigma: float, rng, what: str) -> np.ndarray:
        """DP: a Gaussian measurement of a count vector (L2 sensitivity Δ: 1, or √2 under
        replace-one, times k for a person of at most k rows); charges Δ²/(2σ²)."""
        self._charge("gaussian", self.l2_sensitivity ** 2 / (2.0 * sigma ** 2), sigma=sigma, measured=what)
        for observer in list(_MEASUREMENT_OBSERVERS):
            observer(self, sigma, rng)
        return self.add_noise(values, sigma=sigma, rng=rng)

    @staticmethod
    def add_noise(values: np.ndarray, *, sigma: float, rng) -> np.ndarray:
        """The Gaussian noise of every measurement (and of the audit's canary coordinates)."""
        return np.asarray(values, dtype=float) + rng.normal(0.0, sigma, size=np.shape(values))

    def exponential(self, scores: np.ndarray, *, epsilon: float, sensitivity: float, rng,
                    what: str) -> int:
        """DP: the index of one candidate, drawn with probability ∝ exp(ε·score / (2Δ));
        charges ε²/8. ``sensitivity`` is the add/remove one of a row (doubled here under
        replace-one, times k for a person of at most k rows). Gumbel-max sampling, so large
        scores cannot overflow."""
        sensitivity = sensitivity * (2.0 if self.replace_one else 1.0) * self.rows_per_unit
        scores = np.asarray(scores, dtype=float)
        if scores.size == 0:
            raise ValueError("the exponential mechanism needs at least one candidate")
        self._charge("exponential", epsilon ** 2 / 8.0, epsilon=epsilon, sensitivity=sensitivity, selected=what)
        logits = epsilon * (scores - scores.max()) / (2.0 * sensitivity)
        return int(np.argmax(logits + rng.gumbel(size=scores.size)))


def gaussian_sigma(rho: float) -> float:
    """σ of a Gaussian measurement (sensitivity 1) that costs exactly ρ."""
    return math.sqrt(1.0 / (2.0 * rho))


def exponential_epsilon(rho: float) -> float:
    """ε of an exponential mechanism that costs exactly ρ (ε²/8 = ρ)."""
    return math.sqrt(8.0 * rho)
