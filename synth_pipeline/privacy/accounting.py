"""Privacy accounting for DP-SGD with Poisson sampling, on Google's dp-accounting.

Reads no data: the accountant sees only (noise multiplier, sample rate, steps, δ), as in
Opacus' accountants. The pinned accountant is RDP (dp-accounting's RdpAccountant); PLD is
offered as the tighter, independent second opinion and for cross-checks.
"""

from __future__ import annotations

import functools
import logging
import math
from dataclasses import dataclass

import dp_accounting as dpa
from dp_accounting import pld, rdp


class _DroppedOrders(logging.Filter):
    """The RDP accountant warns for each order whose series fails to converge at small σ and
    leaves that order out of the minimum over orders (ε stays an upper bound). Calibration
    probes such σ on purpose: the CLI printed four such warnings before every DP-SGD run.
    A filter, not a level: the CLI sets absl's level, and absl's other warnings stay shown."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "failed to converge" not in record.getMessage()


logging.getLogger("absl").addFilter(_DroppedOrders())

ACCOUNTANTS = ("rdp", "pld")
DEFAULT_ACCOUNTANT = "rdp"
# Neighbour relations: add/remove one row (n private, the default) or replace one row (n
# declared public). dp-accounting's RDP has no Poisson-subsampled replace-one event; its
# PLD has one (two different rows, each clipped to C), so replace-one DP-SGD uses PLD.
RELATIONS = ("add-remove", "replace-one")


class CalibrationError(ValueError):
    """No noise level reaches the target; the message says what to change."""


@dataclass(frozen=True)
class DpSgdPlan:
    """What DP-SGD will do, enough to account for it before any training happens; with
    ``preprocessing_noise_multiplier``, one Gaussian release of DP statistics comes first."""

    noise_multiplier: float
    sample_rate: float
    steps: int
    preprocessing_noise_multiplier: float | None = None

    def dp_event(self) -> dpa.DpEvent:
        sgd = dpa.SelfComposedDpEvent(
            dpa.PoissonSampledDpEvent(self.sample_rate, dpa.GaussianDpEvent(self.noise_multiplier)), self.steps
        )
        if self.preprocessing_noise_multiplier is None:
            return sgd
        return dpa.ComposedDpEvent([dpa.GaussianDpEvent(self.preprocessing_noise_multiplier), sgd])


def make_accountant(name: str = DEFAULT_ACCOUNTANT):
    if name == "rdp":
        return rdp.RdpAccountant()
    if name == "pld":
        return pld.PLDAccountant()
    raise ValueError(f"accountant {name!r} is not one of {ACCOUNTANTS}")


def epsilon_of(events: list[dpa.DpEvent], *, delta: float, accountant: str = DEFAULT_ACCOUNTANT) -> float:
    """ε of the composition of ``events`` at ``delta``."""
    acc = make_accountant(accountant)
    for event in events:
        acc.compose(event)
    return float(acc.get_epsilon(delta))


@functools.lru_cache(maxsize=4096)  # pure in its numbers; a run asks the same ones at the config gate and in training
def dp_sgd_epsilon(*, noise_multiplier: float, sample_rate: float, steps: int, delta: float,
                   accountant: str = DEFAULT_ACCOUNTANT, preprocessing_noise_multiplier: float | None = None,
                   relation: str = "add-remove") -> float:
    """ε of DP-SGD (after an optional Gaussian release) under ``relation``: the chosen
    accountant for add/remove, dp-accounting's PLD with REPLACE_ONE for replace-one (the
    preprocessing multiplier is then already per replace-one sensitivity)."""
    plan = DpSgdPlan(noise_multiplier, sample_rate, steps, preprocessing_noise_multiplier)
    if relation == "replace-one":
        acc = pld.PLDAccountant(neighboring_relation=dpa.NeighboringRelation.REPLACE_ONE)
        acc.compose(plan.dp_event())
        return float(acc.get_epsilon(delta))
    if relation != "add-remove":
        raise ValueError(f"relation {relation!r} is not one of {RELATIONS}")
    return epsilon_of([plan.dp_event()], delta=delta, accountant=accountant)


def calibrate_gaussian(*, target_epsilon: float, delta: float, accountant: str = DEFAULT_ACCOUNTANT) -> float:
    """Smallest noise multiplier of one Gaussian release (sensitivity 1) with ε ≤ target."""
    low, high = 0.05, 1.0
    while epsilon_of([dpa.GaussianDpEvent(high)], delta=delta, accountant=accountant) > target_epsilon:
        low, high = high, high * 2
        if high > 1e6:
            raise CalibrationError(f"ε={target_epsilon} at δ={delta} is out of reach for a Gaussian release")
    for _ in range(40):
        mid = (low + high) / 2
        if epsilon_of([dpa.GaussianDpEvent(mid)], delta=delta, accountant=accountant) <= target_epsilon:
            high = mid
        else:
            low = mid
    return high


def calibrate_noise(*, target_epsilon: float, delta: float, sample_rate: float, steps: int,
                    accountant: str = DEFAULT_ACCOUNTANT, max_noise: float = 200.0,
                    rel_tol: float = 1e-3, preprocessing_noise_multiplier: float | None = None,
                    relation: str = "add-remove") -> float:
    """Smallest noise multiplier whose ε is at most ``target_epsilon`` (never above it).

    Bisection on σ: ε(σ) decreases in σ. The returned σ satisfies ε(σ) ≤ target and
    ε(σ) ≥ target·(1 − rel_tol) unless the lower end of the search already meets the target.
    """
    for name, value in (("target_epsilon", target_epsilon), ("delta", delta), ("sample_rate", sample_rate)):
        if not (isinstance(value, (int, float)) and math.isfinite(value) and value > 0):
            raise CalibrationError(f"{name} must be a positive finite number, got {value!r}")
    if not 0 < sample_rate <= 1:
        raise CalibrationError(f"sample_rate must lie in (0, 1], got {sample_rate}")
    if steps < 1:
        raise CalibrationError(f"steps must be at least 1, got {steps}")

    def eps(sigma: float) -> float:
        return dp_sgd_epsilon(noise_multiplier=sigma, sample_rate=sample_rate, steps=steps, delta=delta,
                              accountant=accountant, preprocessing_noise_multiplier=preprocessing_noise_multiplier,
                              relation=relation)

    high = 1.0
    while eps(high) > target_epsilon:
        high *= 2
        if high > max_noise:
            raise CalibrationError(
                f"ε={target_epsilon} cannot be met with {steps} steps at sample rate {sample_rate:.4g}: "
                f"it would need a noise multiplier above {max_noise}; train fewer steps, use a larger ε, "
                f"or a smaller sample rate"
            )
    low = high / 2 if high > 1.0 else 0.0
    # low is either 0 or a σ known to overshoot the target; high meets it.
    while high - low > 1e-4 and eps(high) < target_epsilon * (1 - rel_tol):
        mid = (low + high) / 2
        if mid > 0 and eps(mid) <= target_epsilon:
            high = mid
        else:
            low = mid
    return high


# -- zCDP (the marginal-based generators keep their budget in ρ) ---------------------------
def zcdp_epsilon(*, rho: float, delta: float) -> float:
    """ε at δ of a ρ-zCDP mechanism, converted once through the RDP accountant (ρ-zCDP is
    (α, ρα)-RDP for every α): the same conversion the ledger applies to zCDP events."""
    return epsilon_of([dpa.ZCDpEvent(rho)], delta=delta, accountant="rdp")


def calibrate_rho(*, target_epsilon: float, delta: float, rel_tol: float = 1e-4) -> float:
    """Largest ρ whose (ε, δ) conversion stays at or below ``target_epsilon`` (never above)."""
    for name, value in (("target_epsilon", target_epsilon), ("delta", delta)):
        if not (isinstance(value, (int, float)) and math.isfinite(value) and value > 0):
            raise CalibrationError(f"{name} must be a positive finite number, got {value!r}")
    low, high = 0.0, target_epsilon  # ε(ρ) ≥ ρ, so ρ = ε is always over the target for δ < 1
    while high - low > rel_tol * high:
        mid = (low + high) / 2
        if zcdp_epsilon(rho=mid, delta=delta) <= target_epsilon:
            low = mid
        else:
            high = mid
    if low <= 0:
        raise CalibrationError(f"ε={target_epsilon} at δ={delta} leaves no zCDP budget")
    return low
