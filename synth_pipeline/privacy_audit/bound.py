"""The ε lower bound of the one-run audit (Steinke, Nasr & Jagielski, NeurIPS 2023,
"Privacy Auditing with One (1) Training Run").

Reads no data: it sees only counts (m canaries, r guesses, v correct). The paper's
theorem: if a mechanism is (ε, δ)-DP and each of m canaries was included independently
with probability 1/2, the number W of correct guesses among r guesses satisfies

    P[W ≥ v] ≤ P[Binomial(r, q) ≥ v] + 2·m·δ·α,   q = e^ε / (1 + e^ε),
    α = max over i = 1..v of P[v − i ≤ Binomial(r, q) < v] / i,

so observing v correct guesses rejects "(ε, δ)-DP" at level p when that bound is below p.
The ε lower bound at confidence 1 − p is the largest ε rejected (bisection: the bound
grows with ε). With δ = 0 it is the Clopper–Pearson lower confidence limit of the guess
accuracy, turned into ε by the logit (the tests check both against direct computations).
"""

from __future__ import annotations

import math

import numpy as np
from scipy.special import expit
from scipy.stats import binom

DEFAULT_CONFIDENCE = 0.95


def _check_counts(m: int, r: int, v: int) -> None:
    if not (0 <= v <= r <= m) or m < 1:
        raise ValueError(f"the audit needs 0 ≤ correct ≤ guesses ≤ canaries and canaries ≥ 1, got "
                         f"canaries={m}, guesses={r}, correct={v}")


def p_value(*, m: int, r: int, v: int, epsilon: float, delta: float) -> float:
    """Probability of at least ``v`` correct guesses out of ``r`` (``m`` canaries) under the
    null hypothesis that the mechanism is (ε, δ)-DP: the paper's bound, capped at 1."""
    _check_counts(m, r, v)
    if epsilon < 0 or not 0 <= delta <= 1:
        raise ValueError(f"need ε ≥ 0 and δ in [0, 1], got ε={epsilon}, δ={delta}")
    if v == 0:
        return 1.0
    q = float(expit(epsilon))  # accuracy of ε-DP randomized response
    tail = float(binom.sf(v - 1, r, q))  # P[Binomial(r, q) ≥ v]
    alpha = 0.0
    if delta > 0:
        # P[v − i ≤ X ≤ v − 1] for i = 1..v, as a running sum of the pmf from v − 1 down.
        below = np.cumsum(binom.pmf(np.arange(v - 1, -1, -1), r, q))
        alpha = float(np.max(below / np.arange(1, v + 1)))
    return min(1.0, tail + 2 * m * delta * alpha)


def epsilon_lower_bound(*, m: int, r: int, v: int, delta: float, confidence: float = DEFAULT_CONFIDENCE,
                        tolerance: float = 1e-6) -> float:
    """The largest ε that ``v`` correct guesses out of ``r`` reject at ``confidence``
    (0 when none is rejected). A sound lower bound on the true ε of the mechanism, with
    probability ≥ ``confidence`` over the canaries' coin flips and the mechanism."""
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must lie in (0, 1), got {confidence}")
    level = 1 - confidence
    if p_value(m=m, r=r, v=v, epsilon=0.0, delta=delta) >= level:
        return 0.0
    low, high = 0.0, 1.0
    while p_value(m=m, r=r, v=v, epsilon=high, delta=delta) < level:
        low, high = high, 2 * high
        if high > 1e4:  # cannot happen for a level > 0 with finite r; a guard, not a result
            return math.inf
    while high - low > tolerance:  # keep p(low) < level ≤ p(high)
        mid = (low + high) / 2
        if p_value(m=m, r=r, v=v, epsilon=mid, delta=delta) < level:
            low = mid
        else:
            high = mid
    return low


def guess_grid(m: int) -> list[tuple[int, int]]:
    """The (k+, k−) pairs tried, fixed before any score is seen: two-sided guesses on 2%,
    5%, 10%, 20%, 50% and 100% of the canaries, and one-sided ("in" only) on 2%, 5%, 10%.
    The bound takes the best pair at a Bonferroni-corrected level, so it stays valid."""
    pairs = []
    for share in (0.02, 0.05, 0.1, 0.2, 0.5, 1.0):
        r = max(2, int(round(share * m)))
        pairs.append((r - r // 2, r // 2))
    for share in (0.02, 0.05, 0.1):
        pairs.append((max(1, int(round(share * m))), 0))
    return sorted({(min(p, m), min(n, m - min(p, m))) for p, n in pairs})


def audit_guesses(scores: np.ndarray, included: np.ndarray, *, delta: float,
                  confidence: float = DEFAULT_CONFIDENCE, grid: list[tuple[int, int]] | None = None,
                  seed: int = 0) -> dict:
    """Guess "included" on the k+ highest scores and "excluded" on the k− lowest (abstain on
    the rest) for every pair of the grid; return the best ε lower bound, each pair tested at
    level (1 − confidence) / len(grid). Ties in the scores are broken at random (seeded).

    Returns ``{"epsilon_lower_bound", "guesses", "correct", "k_plus", "k_minus",
    "pairs_tested", "confidence"}``: counts only."""
    scores = np.asarray(scores, dtype=float)
    included = np.asarray(included, dtype=bool)
    m = len(scores)
    if m != len(included) or m < 2:
        raise ValueError(f"need one score per canary and at least 2 canaries, got {m} scores, {len(included)} flags")
    if not np.all(np.isfinite(scores)):
        raise ValueError("canary scores must be finite")
    grid = grid or guess_grid(m)
    tiebreak = np.random.default_rng(seed).random(m)
    order = np.lexsort((tiebreak, -scores))  # highest score first
    each = 1 - (1 - confidence) / len(grid)
    best = {"epsilon_lower_bound": 0.0, "guesses": 0, "correct": 0, "k_plus": 0, "k_minus": 0}
    for k_plus, k_minus in grid:
        top, bottom = order[:k_plus], order[m - k_minus:] if k_minus else order[:0]
        r = k_plus + k_minus
        v = int(included[top].sum() + (~included[bottom]).sum())
        eps = epsilon_lower_bound(m=m, r=r, v=v, delta=delta, confidence=each)
        if eps > best["epsilon_lower_bound"] or (best["guesses"] == 0 and eps == 0.0):
            best = {"epsilon_lower_bound": eps, "guesses": r, "correct": v, "k_plus": k_plus, "k_minus": k_minus}
    return {**best, "pairs_tested": len(grid), "confidence": confidence}
