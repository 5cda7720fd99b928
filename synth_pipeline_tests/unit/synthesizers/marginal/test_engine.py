"""The numpy graphical-model engine: exact marginals on a loopy graph, estimates that agree
with mbi (private-pgm's engine, the reference), samples that follow the model, and a warm
start that survives a new triangulation."""

import numpy as np
import pytest

from synth_pipeline.synthesizers.marginal.engine import (GraphicalModel, JunctionTree, Observation, estimate,
                                                         model_size_mb, sum_to)
from synth_pipeline.synthesizers.marginal.model import eliminate

SHAPE = (3, 4, 2, 5, 3)
CYCLE = [(0, 1), (1, 2), (2, 3), (0, 3), (3, 4)]  # 0-1-2-3-0 is a cycle: the tree needs a fill-in


def _truth(rng):
    return rng.dirichlet(np.ones(int(np.prod(SHAPE)))).reshape(SHAPE) * 10_000


def _observations(truth, cliques, rng, sigma=5.0):
    full = tuple(range(len(SHAPE)))
    out = []
    for c in cliques:
        y = sum_to(truth, full, c).ravel()
        out.append(Observation(c, y + rng.normal(0, sigma, y.shape), sigma ** 2))
    return out


def test_the_tree_holds_every_clique_and_its_marginals_are_exact():
    tree = JunctionTree(SHAPE, CYCLE)
    assert all(any(set(c) <= set(k) for k in tree.cliques) for c in CYCLE)
    assert tree.order[0] == tree.cliques[0] and set(tree.order) == set(tree.cliques)
    rng = np.random.default_rng(0)
    potentials = {c: rng.normal(size=[SHAPE[a] for a in c]) * 2 for c in tree.cliques}
    model = GraphicalModel(tree, potentials, total=100.0)
    for query in [(0,), (1,), (3, 4), (0, 2)]:
        expected = 100.0 * eliminate(list(potentials.items()), query, SHAPE)
        # belief propagation runs in float32 (engine._exp_shifted): exact to its precision
        np.testing.assert_allclose(model.project(query), expected, rtol=1e-5, atol=1e-6)


def test_estimates_agree_with_mbi_mirror_descent(mbi):
    rng = np.random.default_rng(1)
    observations = _observations(_truth(rng), [(j,) for j in range(5)] + CYCLE, rng)
    ours = estimate(SHAPE, observations, total=10_000, iters=1000, tolerance=0.0)
    domain = mbi.Domain([f"c{j}" for j in range(5)], SHAPE)
    measured = [mbi.LinearMeasurement(o.values, tuple(f"c{a}" for a in o.clique), stddev=5.0) for o in observations]
    reference = mbi.estimation.MirrorDescent().estimate(domain, measured, known_total=10_000, iters=1000)
    for o in observations:
        expected = np.asarray(reference.project(tuple(f"c{a}" for a in o.clique)).datavector())
        assert np.abs(ours.project(o.clique).ravel() - expected).sum() / 10_000 < 1e-5


def test_a_warm_start_from_another_triangulation_still_fits():
    """AIM's rounds add cliques: the new tree's maximal cliques need not hold the old ones."""
    rng = np.random.default_rng(2)
    truth = _truth(rng)
    first = estimate(SHAPE, _observations(truth, [(0, 1), (1, 2), (2, 3), (0, 3)], rng), total=10_000, iters=50)
    later = _observations(truth, [(0, 1), (1, 2), (2, 3), (0, 3), (1, 4), (2, 4)], rng)
    model = estimate(SHAPE, later, total=10_000, iters=300, warm_start=first)
    full = tuple(range(5))
    assert np.abs(model.project((1, 4)).ravel() - sum_to(truth, full, (1, 4)).ravel()).sum() / 10_000 < 0.02


def test_samples_follow_the_model_and_repeat_with_the_generator():
    rng = np.random.default_rng(3)
    model = estimate(SHAPE, _observations(_truth(rng), CYCLE, rng), total=10_000, iters=200)
    rows = model.sample(40_000, np.random.default_rng(4))
    assert rows.shape == (40_000, 5) and (rows < np.array(SHAPE)).all() and (rows >= 0).all()
    for pair in [(0, 1), (2, 3), (3, 4)]:
        seen = np.bincount(np.ravel_multi_index(rows[:, list(pair)].T, [SHAPE[a] for a in pair]),
                           minlength=SHAPE[pair[0]] * SHAPE[pair[1]]) / 40_000
        assert np.abs(seen - model.project(pair).ravel() / 10_000).sum() < 0.03
    np.testing.assert_array_equal(model.sample(100, np.random.default_rng(5)), model.sample(100, np.random.default_rng(5)))


def test_model_size_counts_the_triangulated_cliques():
    assert model_size_mb((10, 10, 10), [(0,), (1,), (2,)]) == pytest.approx(30 * 8 / 2 ** 20)
    assert model_size_mb((10, 10, 10), [(0, 1), (1, 2), (0, 2)]) == pytest.approx(1000 * 8 / 2 ** 20)


@pytest.mark.parametrize("total", [1e4, 1e6])
def test_a_new_dependent_marginal_is_fitted_at_any_total(total):
    """From the independent model, a measured pair that is far from independence must pull the
    estimate to it, whatever the table's size. The early stop once fired on the first, tiny step
    (it starts at 1/total): on a million rows the pair moved by a few counts and no more."""
    k = 8
    diagonal = np.eye(k).ravel() * total / k  # the second column is a copy of the first
    one_way = np.full(k, total / k)
    observations = [Observation((0,), one_way, 100.0 ** 2), Observation((1,), one_way, 100.0 ** 2)]
    independent = estimate((k, k), observations, total=total, iters=50, tolerance=1e-5)
    observations.append(Observation((0, 1), diagonal, 100.0 ** 2))
    fitted = estimate((k, k), observations, total=total, iters=100, tolerance=1e-5, warm_start=independent)
    tvd = 0.5 * np.abs(fitted.project((0, 1)).ravel() - diagonal).sum() / total
    assert tvd < 0.1  # 0.06 and 0.01 here; the old rule stopped at 0.875, the independent model
