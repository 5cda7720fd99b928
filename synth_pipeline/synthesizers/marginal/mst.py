"""MST (McKenna, Miklau & Sheldon 2021): one-way marginals, a maximum spanning tree of
two-way marginals chosen privately, then a tree-shaped graphical model.

Reads private values, DP: ρ is split in thirds, all Gaussian or exponential-mechanism
spends on one ``ZcdpBudget``:
- one-way counts of every column (d Gaussian measurements, ρ/3 together);
- the tree: d−1 rounds of the exponential mechanism (ρ/3 together) over the pairs that join
  two components, scored by the L1 error of the independence model on that pair
  (sensitivity 1 under add/remove);
- the d−1 chosen two-way counts (Gaussian, ρ/3 together).
Fast: a tree keeps the model small and the estimation quick; the default at low ε.
"""

from __future__ import annotations

import itertools
import logging

import numpy as np
from synth_pipeline.privacy.zcdp import ZcdpBudget, exponential_epsilon
from synth_pipeline.progress import Rounds, rho_spent
from synth_pipeline.synthesizers.marginal.engine import Observation
from synth_pipeline.synthesizers.marginal.model import MarginalSynthesizer, l1

log = logging.getLogger(__name__)


class MST(MarginalSynthesizer):
    name = "mst"

    def _select_and_measure(self, fine: np.ndarray, budget: ZcdpBudget,
                            rng) -> list[Observation]:
        d = fine.shape[1]
        third = budget.remaining / 3  # what the data-following bins left
        progress = Rounds(log, self.name)
        coarse, measurements = self._measure_one_ways(fine, budget, budget.sigma_for(third / d), rng)
        progress.line("MST: one-way marginals of %d columns measured; %s", d, rho_spent(budget),
                      done=budget.spent / budget.rho, final=d < 2, round=0, rho_spent=budget.spent, rho=budget.rho)
        if d < 2:
            return measurements
        tree = self._select_tree(coarse, measurements, budget, third, rng, progress)
        sigma = budget.sigma_for(third / len(tree))
        for k, pair in enumerate(tree, start=1):
            measurements.append(self._measure(coarse, pair, budget, sigma, rng))
            # DP facts only: the tree's edge (picked by the exponential mechanism, schema names), ρ spent.
            progress.line("MST round %d of %d: measured %s; %s", d - 1 + k, 2 * (d - 1), " × ".join(self._names(pair)),
                          rho_spent(budget), done=budget.spent / budget.rho, final=k == len(tree), round=d - 1 + k,
                          measured=self._names(pair), rho_spent=budget.spent, rho=budget.rho)
        return measurements

    def _select_tree(self, coarse: np.ndarray, one_ways: list[Observation], budget: ZcdpBudget,
                     rho: float, rng, progress: Rounds) -> list[tuple]:
        """DP (exponential mechanism): Kruskal's algorithm with noisy choices."""
        attrs = list(range(len(self.shape)))
        # Independence model from the noisy one-ways (post-processing).
        model = self._estimate(one_ways, iters=self.round_iters)
        p = {a: model.project((a,)) for a in attrs}
        total = float(model.total)
        pairs = list(itertools.combinations(attrs, 2))
        error = {pair: l1(self._counts(coarse, pair), np.outer(p[pair[0]], p[pair[1]]).ravel() / max(total, 1.0))
                 for pair in pairs}
        component = {a: a for a in attrs}

        def root(a):
            while component[a] != a:
                a = component[a]
            return a

        epsilon = exponential_epsilon(rho / (len(attrs) - 1))
        tree = []
        for k in range(1, len(attrs)):
            candidates = [pair for pair in pairs if root(pair[0]) != root(pair[1])]
            pick = budget.exponential(np.array([error[pair] for pair in candidates]), epsilon=epsilon,
                                      sensitivity=1.0, rng=rng, what=f"tree edge among {len(candidates)} pairs")
            a, b = candidates[pick]
            component[root(a)] = root(b)
            tree.append(candidates[pick])
            progress.line("MST round %d of %d: picked the tree edge %s; %s", k, 2 * (len(attrs) - 1),
                          " × ".join(self._names(candidates[pick])), rho_spent(budget), done=budget.spent / budget.rho,
                          round=k, selected=self._names(candidates[pick]), rho_spent=budget.spent, rho=budget.rho)
        return tree
