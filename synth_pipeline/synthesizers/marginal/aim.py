"""AIM (McKenna, Mullins, Sheldon & Miklau 2022): adaptive, workload-aware selection of the
marginals to measure, one round at a time, under zCDP.

Reads private values, DP: all spends on one ``ZcdpBudget`` of ρ:
- one-way counts of every column (Gaussian σ);
- each round: the exponential mechanism (ε) picks the candidate marginal the current model
  gets most wrong, weighted by the workload (all two-way marginals; those with the schema's
  label weigh ``LABEL_WEIGHT`` times more) and corrected by the expected noise of measuring it
  (sensitivity: the largest workload weight), then a Gaussian measurement of it (σ); 10% of
  a round goes to the selection, 90% to the measurement;
- when the model no longer moves by more than the noise on a measured marginal, σ halves
  and ε doubles (annealing); the last round spends exactly what is left.

Bounded, stated for reviewers: at most ``16·d`` rounds (the paper's default); candidates
are the workload's downward closure (one- and two-way marginals) kept under a model-size
cap that grows with the budget spent (``max_model_size_mb``, 80 MB); the engine's estimation runs
``round_iters`` mirror-descent steps per round (warm started) and ``final_iters`` at the end,
stopping early at a relative loss change under ``tolerance``.
"""

from __future__ import annotations

import itertools
import logging

import numpy as np
from synth_pipeline.privacy.zcdp import ZcdpBudget, exponential_epsilon
from synth_pipeline.progress import Rounds, rho_spent
from synth_pipeline.synthesizers.marginal.engine import Observation, model_size_mb
from synth_pipeline.synthesizers.marginal.model import MarginalSynthesizer, expected_noise_l1, l1

SELECTION_SHARE = 0.1  # of each round's ρ (the paper's α = 0.9 goes to measurement)
# The workload is public (the schema's label is): pairs with the label weigh this much more, so
# rounds go to what a model trained on the synthetic rows needs. Measured on four drafted tables
# at ε=1 (BENCHMARKS.md, "AIM's workload"): it cut the fits that lost the label's skill.
LABEL_WEIGHT = 5.0
log = logging.getLogger(__name__)


def describe_workload(label: str | None) -> str:
    """The workload in words, for the model card (public: the schema's label)."""
    if label is None:
        return "every two-way marginal, equal weights"
    return f"every two-way marginal; those with the label {label!r} weigh {LABEL_WEIGHT:g} times more"


class AIM(MarginalSynthesizer):
    name = "aim"

    def _select_and_measure(self, fine: np.ndarray, budget: ZcdpBudget,
                            rng) -> list[Observation]:
        d = fine.shape[1]
        rounds = 16 * d
        round_rho = budget.remaining / rounds  # what the data-following bins left
        sigma = budget.sigma_for((1 - SELECTION_SHARE) * round_rho)
        epsilon = exponential_epsilon(SELECTION_SHARE * round_rho)
        progress = Rounds(log, self.name)
        coarse, measurements = self._measure_one_ways(fine, budget, sigma, rng)
        progress.line("AIM: one-way marginals of %d columns measured; %s", d, rho_spent(budget),
                      done=budget.spent / budget.rho, round=0, rho_spent=budget.spent, rho=budget.rho)
        self.model = self._estimate(measurements, iters=self.round_iters)
        attrs = list(range(len(self.shape)))
        workload = self._workload(attrs)
        candidates = [(a,) for a in attrs] + list(workload)
        # Workload weight of a candidate r: Σ_q w_q·|r ∩ q| over the workload's cliques q.
        weight = {r: float(sum(w * len(set(r) & set(q)) for q, w in workload.items())) for r in candidates}
        true = {r: self._counts(coarse, r) for r in candidates}

        while budget.remaining > budget.rho * 1e-12:
            remaining = budget.remaining
            round_cost = budget.l2_sensitivity ** 2 / (2 * sigma ** 2) + epsilon ** 2 / 8
            if remaining < 2 * round_cost:  # the last round: spend all that is left
                sigma = budget.sigma_for((1 - SELECTION_SHARE) * remaining)
                epsilon = exponential_epsilon(SELECTION_SHARE * remaining)
            size_limit = self.max_model_size_mb * budget.spent / budget.rho
            cliques = list(self.model.cliques)
            # A marginal may be measured again: after annealing its noise is lower.
            pool = [r for r in candidates if model_size_mb(self.shape, cliques + [r]) <= size_limit] \
                or [(a,) for a in attrs]
            estimates = self.model_marginals(pool)
            scores = np.array([weight[r] * (l1(true[r], estimates[r]) - expected_noise_l1(sigma, true[r].size))
                               for r in pool])
            pick = pool[budget.exponential(scores, epsilon=epsilon, sensitivity=max(weight[r] for r in pool),
                                           rng=rng, what=f"marginal among {len(pool)} candidates")]
            measurements.append(self._measure(coarse, pick, budget, sigma, rng, counts=true[pick]))
            before = estimates[pick]
            self.model = self._estimate(measurements, iters=self.round_iters, warm_start=self.model)
            after = self.model_marginals([pick])[pick]
            moved, noise = l1(after, before), expected_noise_l1(sigma, after.size)
            log.debug("AIM round check: model moved %.4g, noise %.4g", moved, noise)
            if moved <= noise and budget.remaining > 0:
                sigma, epsilon = sigma / 2, epsilon * 2  # annealing: the model stopped learning at this noise
            # DP facts only: the round, the clique the exponential mechanism picked (schema names), ρ spent.
            progress.line("AIM round %d: measured %s; %s; %d marginals in the model",
                          len(measurements) - d, " × ".join(self._names(pick)), rho_spent(budget),
                          len(self.model.cliques), done=budget.spent / budget.rho,
                          final=budget.remaining <= budget.rho * 1e-12, round=len(measurements) - d,
                          measured=self._names(pick), rho_spent=budget.spent, rho=budget.rho)
        self.rounds = len(measurements) - d
        return measurements

    def _workload(self, attrs: list[str]) -> dict[tuple, float]:
        """Public: every two-way marginal, with its weight (``LABEL_WEIGHT`` where it holds the
        schema's label)."""
        label = next((a for a in attrs if self._names((a,)) == [self.label]), None)
        return {q: LABEL_WEIGHT if label in q else 1.0 for q in itertools.combinations(attrs, 2)}
