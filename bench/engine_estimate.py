"""Time the marginal engine's ``estimate`` on one fixed large problem (no private data).

Usage: python bench/engine_estimate.py [ITERS]   (default 50 mirror-descent steps)
A males-like domain (11 columns, 2 to 24 cells each) and AIM-at-ε=10-like cliques (a 53 MB
junction tree), observed from 3,000 synthetic rows with Gaussian noise σ = 5: the same work
before and after an engine change. Prints the seconds and four cells of one marginal (to see
that a change kept the estimates). Results: BENCHMARKS.md, "The marginal engine".
"""

from __future__ import annotations

import sys
import time

import numpy as np

from synth_pipeline.synthesizers.marginal.engine import Observation, estimate

SHAPE = (8, 16, 16, 2, 3, 2, 2, 24, 12, 9, 4)
CLIQUES = [(0, 1, 2, 7, 8), (1, 2, 7, 8, 9), (2, 3, 7, 8, 9, 10), (4, 5, 6, 9), (0, 2, 8, 10)]


def problem(rng: np.random.Generator) -> list[Observation]:
    base = rng.integers(0, 4, 3000)  # a shared latent, so the columns are related
    rows = np.stack([(base * (s // 4 or 1) + rng.integers(0, max(s // 2, 1), 3000)) % s for s in SHAPE], axis=1)
    observations = []
    for c in CLIQUES + [(a,) for a in range(len(SHAPE))]:
        counts = np.zeros([SHAPE[a] for a in c])
        np.add.at(counts, tuple(rows[:, a] for a in c), 1)
        observations.append(Observation(c, (counts + rng.normal(0, 5, counts.shape)).ravel(), 25.0))
    return observations


def main() -> None:
    iters = int(sys.argv[1]) if len(sys.argv) > 1 else 50
    observations = problem(np.random.default_rng(0))
    start = time.perf_counter()
    model = estimate(SHAPE, observations, total=3000.0, iters=iters)
    seconds = time.perf_counter() - start
    print(f"estimate: {seconds:.2f} s for {iters} steps; junction tree {model.tree.size_mb():.1f} MB; "
          f"marginal (0, 1) first cells {np.round(model.project((0, 1)).ravel()[:4], 4)}")


if __name__ == "__main__":
    main()
