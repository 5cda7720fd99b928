"""Composition maths of the ledger: budgets, what a set of DP events spends (basic sums and
tight RDP composition through dp-accounting) and when a new charge is refused. Reads no
data and stores nothing: ``privacy.ledger`` keeps the events; this module only adds them up.
"""

from __future__ import annotations

import json
import math
from collections import Counter
from dataclasses import dataclass
from functools import lru_cache

from synth_pipeline.privacy.accounting import DpSgdPlan
from synth_pipeline.privacy.release_types import ReleaseTypes

COMPOSITIONS = ("tight", "basic")


@dataclass(frozen=True)
class Budget:
    dataset: str
    epsilon: float
    delta: float
    composition: str = "tight"
    per_release_epsilon: float | None = None
    # Policy, not DP: only events of the last ``window_days`` count against the cap. DP
    # guarantees compose over every release; the lifetime spend is always reported too.
    window_days: float | None = None
    # Policy: kinds of release with their own caps (privacy.release_types); () when none.
    release_types: ReleaseTypes = ReleaseTypes()

    def __post_init__(self):
        if not (self.epsilon > 0 and 0 < self.delta < 1):
            raise ValueError(f"a budget needs ε > 0 and 0 < δ < 1, got ε={self.epsilon}, δ={self.delta}")
        if self.window_days is not None and not self.window_days > 0:
            raise ValueError(f"window_days must be positive, got {self.window_days}")
        if self.composition not in COMPOSITIONS:
            raise ValueError(f"composition must be one of {COMPOSITIONS}, got {self.composition!r}")


@dataclass(frozen=True)
class Spend:
    """What a dataset has spent: basic (sums) and tight (RDP composition at the budget's δ)."""

    dataset: str
    budget: Budget
    events: int
    basic_epsilon: float
    basic_delta: float
    tight_epsilon: float
    lifetime_events: int | None = None  # set when a policy window hides older events
    lifetime_basic_epsilon: float | None = None

    @property
    def spent_epsilon(self) -> float:
        return self.tight_epsilon if self.budget.composition == "tight" else self.basic_epsilon

    @property
    def remaining_epsilon(self) -> float:
        return max(0.0, self.budget.epsilon - self.spent_epsilon)

    def as_dict(self) -> dict:
        return {
            "dataset": self.dataset,
            "budget_epsilon": self.budget.epsilon,
            "budget_delta": self.budget.delta,
            "composition": self.budget.composition,
            "per_release_epsilon": self.budget.per_release_epsilon,
            "events": self.events,
            "spent_epsilon_basic": self.basic_epsilon,
            "spent_delta_basic": self.basic_delta,
            "spent_epsilon_tight": self.tight_epsilon,
            "spent_epsilon": self.spent_epsilon,
            "remaining_epsilon": self.remaining_epsilon,
            "window_days": self.budget.window_days,
            "release_types": [t.__dict__ for t in self.budget.release_types.types],
            "default_release_type": self.budget.release_types.default,
            "lifetime_events": self.events if self.lifetime_events is None else self.lifetime_events,
            "lifetime_spent_epsilon_basic": (self.basic_epsilon if self.lifetime_basic_epsilon is None
                                             else self.lifetime_basic_epsilon),
        }


def dp_event_for(mechanism: str, params: dict):
    """Rebuild the dp-accounting event of a stored charge from its parameters."""
    import dp_accounting as dpa

    if mechanism == "dp-sgd":
        pre = params.get("preprocessing_noise_multiplier")
        return DpSgdPlan(float(params["noise_multiplier"]), float(params["sample_rate"]), int(params["steps"]),
                         None if pre is None else float(pre)).dp_event()
    if mechanism == "gaussian":
        return dpa.GaussianDpEvent(float(params["noise_multiplier"]))
    if mechanism == "laplace":
        return dpa.LaplaceDpEvent(float(params["scale"]) / float(params["sensitivity"]))
    if mechanism == "zcdp":  # marginal-based methods keep their budget in ρ (MST, AIM)
        return dpa.ZCDpEvent(float(params["rho"]))
    if mechanism == "approx-dp":  # an (ε, δ) guarantee with no RDP curve (replace-one DP-SGD, via PLD)
        if not (float(params["epsilon"]) > 0 and 0 < float(params["delta"]) < 1):
            raise ValueError(f"an approx-dp event needs ε > 0 and δ in (0, 1), got {params}")
        return dpa.UnsupportedDpEvent()  # dp-accounting has no (ε, δ) event: composed by addition here
    raise ValueError(f"no accounting rule for mechanism {mechanism!r}")


@lru_cache(maxsize=512)
def rdp_curve(mechanism: str, params_json: str) -> tuple[float, ...]:
    """RDP of one event at the accountant's default orders, cached: computing it takes ~0.1 s,
    and a reservation would otherwise hold the ledger file that long per stored event.
    Reads ``_rdp`` of dp-accounting 0.6 (pinned); a test checks it against direct composition."""
    from dp_accounting import rdp

    acc = rdp.RdpAccountant()
    event = dp_event_for(mechanism, json.loads(params_json))
    if mechanism == "approx-dp":  # no RDP curve: tight composition falls back to the basic sum
        return tuple(math.inf for _ in acc._orders)
    acc.compose(event)
    return tuple(float(v) for v in acc._rdp)


def tight_epsilon(groups: tuple, delta: float) -> float:
    """RDP composition: per-order RDP adds up over events, then one conversion to ε at δ."""
    import numpy as np
    from dp_accounting import rdp

    total = sum(np.asarray(rdp_curve(mechanism, params)) * count for (mechanism, params), count in groups)
    # δ spent outside RDP (thresholds of category discovery) is taken off the budget's δ first.
    extra = sum(float(json.loads(params).get("extra_delta", 0.0)) * count for (_, params), count in groups)
    if extra >= delta:
        return math.inf
    epsilon, _ = rdp.rdp_privacy_accountant.compute_epsilon(rdp.RdpAccountant()._orders, total, delta - extra)
    return float(epsilon)


def compose_spend(dataset: str, budget: Budget, active: list[dict]) -> Spend:
    """What the active events of a dataset spend: basic (sums) and tight (RDP composition)."""
    tight = 0.0
    if active:
        groups = Counter((a["mechanism"], json.dumps(a["params"], sort_keys=True)) for a in active)
        tight = tight_epsilon(tuple(sorted(groups.items())), budget.delta)
        # Basic composition is also a valid bound, but at the summed δ: use it only
        # where that δ is within the budget's.
        if sum(a["delta"] for a in active) <= budget.delta:
            tight = min(tight, sum(a["epsilon"] for a in active))
    return Spend(
        dataset=dataset,
        budget=budget,
        events=len(active),
        basic_epsilon=sum(a["epsilon"] for a in active),
        basic_delta=sum(a["delta"] for a in active),
        tight_epsilon=tight,
    )



def refusal(budget: Budget, before: Spend, after: Spend, epsilon: float, delta: float) -> str | None:
    """Why adding a charge of (ε, δ) would break the budget (``after`` includes it), or None."""
    ask = f"the run asks for ε={epsilon:.4g}, δ={delta:.3g}"
    state = (f"dataset {budget.dataset!r}: budget ε={budget.epsilon:.4g}, δ={budget.delta:.3g} "
             f"({budget.composition} composition); spent ε={before.spent_epsilon:.4g}, "
             f"left ε={before.remaining_epsilon:.4g}; {ask}")
    if budget.per_release_epsilon is not None and epsilon > budget.per_release_epsilon:
        return f"refused: over the per-release cap ε={budget.per_release_epsilon:.4g}. {state}"
    if budget.composition == "basic" and (after.basic_epsilon > budget.epsilon or after.basic_delta > budget.delta):
        return f"refused: the budget would be exceeded. {state}"
    if budget.composition == "tight" and after.tight_epsilon > budget.epsilon:
        return f"refused: the budget would be exceeded. {state}"
    if delta > budget.delta:
        return f"refused: the run's δ is larger than the budget's δ. {state}"
    return None

