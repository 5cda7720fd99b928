"""A graphical model over discrete columns, in numpy: a junction tree, belief propagation,
estimation from noisy marginals by mirror descent, and sampling.

Post-processing only: it reads noisy measurements (DP outputs), never the data.

The algorithm is private-pgm's (McKenna, Sheldon & Miklau, ICML 2019): entropic mirror
descent on the log-potentials of the junction tree's maximal cliques, with a backtracking
line search, the marginals from a calibrated tree, the total known. Why not mbi 2.0, the
private-pgm package the project started on: it runs on JAX and compiles an XLA program for
every new set of cliques. AIM adds a clique a round, so compiling took most of its time and
XLA's programs most of its memory (Adult at ε=1: 2.3 GB peak; BENCHMARKS.md, "The marginal
engine"). mbi stays a test dependency: the tests check this engine against it.

Columns are integers 0..d-1, a clique is a sorted tuple of them, and ``shape[j]`` is the number
of cells of column j.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import numpy as np

Clique = tuple[int, ...]
LINE_SEARCH_STEPS = 25


@dataclass(frozen=True)
class Observation:
    """A noisy marginal: ``values`` (flat, C order over ``clique``) with per-cell ``variance``."""

    clique: Clique
    values: np.ndarray
    variance: np.ndarray | float


def expand(values: np.ndarray, attrs: Clique, target: Clique) -> np.ndarray:
    """``values`` over ``attrs`` as a view that broadcasts over ``target`` (attrs ⊆ target)."""
    present = [a for a in target if a in attrs]
    moved = np.transpose(values, [attrs.index(a) for a in present]) if present else values
    return moved.reshape([values.shape[attrs.index(a)] if a in attrs else 1 for a in target])


def sum_to(values: np.ndarray, attrs: Clique, keep: Clique) -> np.ndarray:
    """Sum out every attribute not in ``keep``; axes in ``keep``'s order. (einsum: measured 2.5
    times faster than ``ndarray.sum`` over several inner axes.)"""
    if tuple(keep) == tuple(attrs):
        return values
    return np.einsum(values, list(range(len(attrs))), [attrs.index(a) for a in keep])


class JunctionTree:
    """The maximal cliques of a triangulation of the cliques' graph, joined into a tree by
    their separators (a maximum spanning tree: the running-intersection property holds)."""

    def __init__(self, shape: tuple[int, ...], cliques: list[Clique]):
        self.shape = tuple(int(s) for s in shape)
        neighbours = {j: set() for j in range(len(shape))}
        for cl in cliques:
            for a, b in itertools.combinations(cl, 2):
                neighbours[a].add(b)
                neighbours[b].add(a)
        formed = []
        while neighbours:  # greedy elimination: the variable whose clique is smallest first
            var = min(neighbours, key=lambda v: (self.size(tuple(neighbours[v] | {v})), v))
            near = neighbours.pop(var)
            formed.append(frozenset(near | {var}))
            for a, b in itertools.combinations(near, 2):
                neighbours[a].add(b)
                neighbours[b].add(a)
            for a in near:
                neighbours[a].discard(var)
        unique = set(formed)
        self.cliques: list[Clique] = sorted(tuple(sorted(c)) for c in unique if not any(c < o for o in unique))
        self.parent: dict[Clique, Clique | None] = {}
        self.order: list[Clique] = []  # root first, every clique after its parent
        self._span_tree()

    def size(self, clique) -> int:
        return math.prod(self.shape[a] for a in clique)

    def _span_tree(self) -> None:
        edges = sorted(((len(set(a) & set(b)), a, b) for a, b in itertools.combinations(self.cliques, 2)),
                       key=lambda e: -e[0])
        group = {c: c for c in self.cliques}

        def root(c):
            while group[c] != c:
                c = group[c]
            return c

        links = {c: [] for c in self.cliques}
        for _, a, b in edges:
            if root(a) != root(b):
                group[root(a)] = root(b)
                links[a].append(b)
                links[b].append(a)
        start = self.cliques[0]
        self.parent, self.order, queue = {start: None}, [], [start]
        while queue:
            c = queue.pop(0)
            self.order.append(c)
            for k in links[c]:
                if k not in self.parent:
                    self.parent[k] = c
                    queue.append(k)

    def children(self, clique: Clique) -> list[Clique]:
        return [c for c in self.order if self.parent[c] == clique]

    def home(self, clique: Clique) -> Clique:
        """A maximal clique that contains ``clique`` (the smallest)."""
        holders = [c for c in self.cliques if set(clique) <= set(c)]
        if not holders:
            raise KeyError(f"no maximal clique holds {clique}")
        return min(holders, key=self.size)

    def size_mb(self) -> float:
        return sum(self.size(c) for c in self.cliques) * 8 / 2 ** 20


def model_size_mb(shape: tuple[int, ...], cliques: list[Clique]) -> float:
    """Memory of the potentials a model over these cliques needs (float64), in MB."""
    return JunctionTree(shape, [tuple(sorted(c)) for c in cliques]).size_mb()


def _separator(a: Clique, b: Clique) -> Clique:
    return tuple(sorted(set(a) & set(b)))


class GraphicalModel:
    """Log-potentials on a junction tree's maximal cliques and the known total: its calibrated
    marginals (counts) and samples."""

    def __init__(self, tree: JunctionTree, potentials: dict[Clique, np.ndarray], total: float):
        self.tree, self.potentials, self.total = tree, potentials, float(total)
        self.marginals = calibrate(tree, potentials, self.total)

    @property
    def cliques(self) -> list[Clique]:
        return self.tree.cliques

    def project(self, clique: Clique) -> np.ndarray:
        """The model's counts over ``clique`` (within one maximal clique), in its order."""
        home = self.tree.home(clique)
        return sum_to(self.marginals[home], home, tuple(clique))

    def sample(self, rows: int, rng: np.random.Generator) -> np.ndarray:
        """``rows`` × d cell indices drawn from the model: the root's cells, then each clique's
        new columns given its separator with its parent."""
        out = np.zeros((rows, len(self.tree.shape)), dtype=int)
        for c in self.tree.order:
            parent = self.tree.parent[c]
            given = _separator(c, parent) if parent is not None else ()
            new = tuple(a for a in c if a not in given)
            if not new:
                continue
            table = np.transpose(self.marginals[c], [c.index(a) for a in given + new])
            table = np.clip(table.reshape(self.tree.size(given), self.tree.size(new)).astype(float), 0.0, None)
            sums = table.sum(axis=1, keepdims=True)
            table = np.where(sums > 0, table / np.where(sums > 0, sums, 1.0), 1.0 / table.shape[1])
            key = (np.ravel_multi_index(tuple(out[:, a] for a in given), [self.tree.shape[a] for a in given])
                   if given else np.zeros(rows, dtype=int))
            drawn = np.empty(rows, dtype=int)
            for value in np.unique(key):
                at = np.flatnonzero(key == value)
                drawn[at] = rng.choice(table.shape[1], size=len(at), p=table[value])
            for a, cells in zip(new, np.unravel_index(drawn, [self.tree.shape[a] for a in new])):
                out[:, a] = cells
        return out


def _exp_shifted(v: np.ndarray) -> np.ndarray:
    """exp(v − max v) in float32: belief propagation is memory-bound, and float32 halves the
    bytes and vectorises exp (measured 3.7 times faster here); the potentials, the loss and
    the gradient stay float64, and each message is renormalised."""
    out = np.subtract(v, v.max()).astype(np.float32)
    return np.exp(out, out=out)


def calibrate(tree: JunctionTree, potentials: dict[Clique, np.ndarray], total: float) -> dict[Clique, np.ndarray]:
    """Belief propagation on the tree: each maximal clique's marginal, in counts. In probability
    space, one exponential per clique (its potential less its maximum), every message rescaled
    to sum 1 (the scale cancels in the normalisation), so nothing under- or overflows."""
    factor = {c: _exp_shifted(v) for c, v in potentials.items()}
    messages: dict[tuple[Clique, Clique], np.ndarray] = {}

    def product(c: Clique, skip: Clique | None = None) -> np.ndarray:
        out = factor[c]
        for k in tree.children(c) + ([tree.parent[c]] if tree.parent[c] is not None else []):
            if k != skip and (k, c) in messages:
                m = expand(messages[(k, c)], _separator(k, c), c)
                if out is factor[c]:
                    out = out * m  # the first message: a new array, factor[c] is read again
                else:
                    out *= m  # in place: large cliques are memory-bound
        return out

    def send(values: np.ndarray, c: Clique, to: Clique) -> None:
        m = sum_to(values, c, _separator(c, to))
        messages[(c, to)] = m / max(float(m.sum()), 1e-300)

    for c in reversed(tree.order):  # leaves to root
        if tree.parent[c] is not None:
            send(product(c), c, tree.parent[c])
    for c in tree.order:  # root to leaves: the parent's message to c is in by now
        for k in tree.children(c):
            send(product(c, skip=k), c, k)
    marginals = {}
    for c in tree.order:
        p = product(c)
        marginals[c] = total * p / max(float(p.sum()), 1e-300)
    return marginals


def _least_squares(tree: JunctionTree, observations: list[Observation]):
    """The weighted least-squares loss of marginals against the observations, and its gradient
    on the maximal cliques. Observations of one clique are pooled (their inverse-variance mean:
    the same loss up to a constant, which is kept), and each clique's marginal is summed from
    its smallest observed superset, so a maximal clique is reduced once per superset chain."""
    pooled: dict[Clique, list] = {}
    for o in observations:
        w = np.broadcast_to(1.0 / np.asarray(o.variance, dtype=float), o.values.shape)
        entry = pooled.setdefault(o.clique, [0.0, 0.0, 0.0])
        entry[0] = entry[0] + w
        entry[1] = entry[1] + w * o.values
        entry[2] += 0.5 * float(np.sum(w * o.values * o.values))
    weight = {c: e[0] for c, e in pooled.items()}
    target = {c: e[1] / e[0] for c, e in pooled.items()}
    constant = sum(e[2] - 0.5 * float(np.sum(e[1] * e[1] / e[0])) for e in pooled.values())
    largest_first = sorted(pooled, key=lambda c: -tree.size(c))
    source = {}
    for i, c in enumerate(largest_first):
        supersets = [k for k in largest_first[:i] if set(c) < set(k)]
        source[c] = min(supersets, key=tree.size) if supersets else tree.home(c)

    def loss_and_gradient(mu):
        marginal, loss = {}, constant
        for c in largest_first:
            src = source[c]
            values = marginal[src] if src in marginal else mu[src]
            marginal[c] = values if src == c else sum_to(values, src, c)
        residual = {}
        for c in largest_first:
            diff = marginal[c].ravel() - target[c]
            r = weight[c] * diff
            loss += 0.5 * float(np.dot(r, diff))
            residual[c] = r.reshape(marginal[c].shape)
        grad = {}
        for c in reversed(largest_first):  # smallest first: a clique's gradient joins its source's
            src = source[c]
            if src in residual and src != c:
                residual[src] = residual[src] + expand(residual[c], c, src)
            else:
                term = expand(residual[c], c, src) if src != c else residual[c]
                grad[src] = grad[src] + term if src in grad else np.broadcast_to(term, mu[src].shape).copy()
        for c, v in mu.items():  # a maximal clique no observation reaches
            grad.setdefault(c, np.zeros_like(v))
        return loss, grad

    return loss_and_gradient


def _step(theta: np.ndarray, grad: np.ndarray, alpha: float) -> np.ndarray:
    """theta − alpha·grad with one new array (large cliques are memory-bound)."""
    out = np.multiply(grad, -alpha)
    out += theta
    return out


def estimate(shape: tuple[int, ...], observations: list[Observation], *, total: float, iters: int,
             tolerance: float = 0.0, warm_start: GraphicalModel | None = None) -> GraphicalModel:
    """The graphical model closest (weighted least squares) to the noisy marginals: entropic
    mirror descent on the log-potentials, step size by backtracking (private-pgm's rule)."""
    tree = JunctionTree(shape, [o.clique for o in observations])
    theta = {c: np.zeros([shape[a] for a in c]) for c in tree.cliques}
    if warm_start is not None:  # a starting point only: a potential no new clique holds is left out
        for c, values in warm_start.potentials.items():
            if any(set(c) <= set(k) for k in tree.cliques):
                target = tree.home(c)
                theta[target] = theta[target] + expand(values, c, target)
    loss_and_gradient = _least_squares(tree, observations)

    mu = calibrate(tree, theta, total)
    loss, grad = loss_and_gradient(mu)
    alpha = 1.0 / max(total, 1.0)
    for _ in range(iters):
        before = loss
        alpha *= 2.0
        for backtracks in range(LINE_SEARCH_STEPS):
            trial = {c: _step(theta[c], grad[c], alpha) for c in theta}
            trial_mu = calibrate(tree, trial, total)
            trial_loss, trial_grad = loss_and_gradient(trial_mu)
            expected = sum(float(np.vdot(grad[c], mu[c])) - float(np.vdot(grad[c], trial_mu[c])) for c in theta)
            if before - trial_loss >= 0.5 * alpha * expected:
                break
            alpha *= 0.5
        theta, mu, loss, grad = trial, trial_mu, trial_loss, trial_grad
        # Stop on a small change only once the step size has found its scale (the line search
        # had to shorten it): while the doubled step is still accepted, a small change means
        # the step is still tiny, not that the loss is flat. The first steps start at
        # 1/total, and on a million rows the very first one moved the model by a few counts,
        # which stopped the estimation of every new marginal after one step.
        if backtracks > 0 and abs(before - loss) <= tolerance * max(abs(before), 1e-300):
            break
    return GraphicalModel(tree, theta, total)
