"""The shared frame of the marginal-based generators: measure, estimate (``engine``), sample,
save and load.

Reads private values, DP: the only reads of the training rows are the marginals the
mechanisms measure with Gaussian noise and the scores the exponential mechanism selects
with, all charged to one ``ZcdpBudget`` of ρ = ``plan.rho``, the noise and the picks drawn
from the secret source (``privacy.secret_random``, never ``config.seed``) (the ledger charge is the
caller's, as for the DP-SGD generators). The privacy unit is one row (add/remove, or
replace-one where the schema declares n public: sensitivities double). The total n is never
read: the engine estimates it from the noisy measurements. The fitted graphical
model, its decode weights and the sampled rows are post-processing.
"""

from __future__ import annotations

import logging
import math
import time
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd

from synth_pipeline.privacy.config import SynthesisConfig, TrainingPlan
from synth_pipeline.privacy.secret_random import secret_rng
from synth_pipeline.privacy.zcdp import ZcdpBudget
from synth_pipeline.progress import rho_spent
from synth_pipeline.synthesizers import persistence
from synth_pipeline.synthesizers import dp_bins as binning
from synth_pipeline.synthesizers.marginal import cells
from synth_pipeline.synthesizers.marginal.engine import (GraphicalModel, JunctionTree, Observation, estimate, expand,
                                                        model_size_mb)
from synth_pipeline.synthesizers.transforms import TableCodec

log = logging.getLogger(__name__)

# Defaults, stated for reviewers and benchmarks: the model-size cap bounds memory (AIM's
# reference default), iteration caps and a relative tolerance bound estimation time.
MAX_MODEL_SIZE_MB = 80.0
ROUND_ITERS = 100
FINAL_ITERS = 1000
TOLERANCE = 1e-5


class ModelTooLargeError(cells.DomainTooLargeError):
    """The graphical model would exceed the model-size cap."""


class MarginalSynthesizer:
    """Subclasses implement ``_select_and_measure``: which marginals to measure, and how."""

    name = "marginal"
    is_dp = True
    # Cells whose noisy one-way count is under this many σ are merged (MST's rule). On Adult at
    # ε=1, AIM's TSTR ratio is 0.970-0.974 with it and 0.971 without: kept, for smaller models.
    compression_sigmas = 3.0
    dp_scope = ("every read of the training rows is a noisy marginal (Gaussian) or a noisy selection (exponential "
                "mechanism) under one zCDP budget; the graphical model and sampling are post-processing")

    def __init__(self, codec: TableCodec, *, max_model_size_mb: float = MAX_MODEL_SIZE_MB,
                 round_iters: int = ROUND_ITERS, final_iters: int = FINAL_ITERS, tolerance: float = TOLERANCE):
        self.codec = codec
        self.max_model_size_mb = max_model_size_mb
        self.round_iters = round_iters
        self.final_iters = final_iters
        self.tolerance = tolerance
        self.columns: list[cells.CompressedColumn] = []
        self.model: GraphicalModel | None = None
        self.training_summary: dict = {}
        self.bins: binning.DpBins | None = None
        self.label: str | None = None

    # -- public-facts checks (before any charge) ----------------------------------------------
    def check(self) -> None:
        """Public schema only: every column has a modest domain and the fine one-way model fits."""
        cells.check_columns(self.codec)
        widths = tuple(c.width for c in self.codec.codecs)
        size = model_size_mb(widths, [(j,) for j in range(len(widths))])
        if size > self.max_model_size_mb:
            raise ModelTooLargeError(f"the one-way model alone needs {size:.1f} MB, above the {self.max_model_size_mb} "
                                     "MB cap: declare coarser categories or fewer columns")

    # -- fitting --------------------------------------------------------------------------------
    def fit(self, frame: pd.DataFrame, *, config: SynthesisConfig, plan: TrainingPlan,
            on_dp_start: Callable[[], None] | None = None, label: str | None = None,
            **_) -> "MarginalSynthesizer":
        """DP: spend exactly ``plan.model_rho`` (the plan's ρ less what DP domains cost, spent
        before this by the caller) on measurements and selections, then estimate. ``label``:
        the schema's label (public), which a workload may weigh up."""
        if plan.rho is None:
            raise ValueError(f"{self.name} needs a zCDP plan (plan.rho); got a DP-SGD plan")
        self.check()
        self.label = label
        started = time.perf_counter()
        rng = secret_rng()  # every measurement and pick: never config.seed (it sets only sampling)
        budget = ZcdpBudget(plan.model_rho, replace_one=plan.relation == "replace-one",
                            rows_per_unit=plan.rows_per_unit)
        if on_dp_start is not None:
            on_dp_start()  # the first noisy measurement follows
        self.bins = binning.dp_bins(frame, self.codec, budget, rho=binning.BINNING_SHARE * plan.model_rho, rng=rng)
        if self.bins is not None:
            self.codec = self.bins.codec
            log.info("%s: data-following bins of %d numeric columns measured; %s", self.name,
                     len(self.bins.one_ways), rho_spent(budget))
        fine = self.codec.encode_cells(frame)
        measurements = self._select_and_measure(fine, budget, rng)
        log.info("%s: final estimation of the graphical model (at most %d steps)", self.name, self.final_iters)
        self.model = self._estimate(measurements, iters=self.final_iters, warm_start=self.model)
        log.info("%s fitted in %.1f s: %d marginals measured, %s", self.name, time.perf_counter() - started,
                 len(measurements), rho_spent(budget))  # DP facts and timing only
        if budget.remaining > plan.model_rho * 1e-9:
            raise RuntimeError(f"{self.name} left ρ={budget.remaining:.3g} unspent: the plan and the mechanism disagree")
        self.training_summary = {
            "rho": plan.model_rho, "rho_spent": budget.spent, "measurements": len(measurements),
            "cliques": [self._names(cl) for cl in self.model.cliques],
            "gaussian_measurements": sum(s["mechanism"] == "gaussian" for s in budget.spends),
            "exponential_selections": sum(s["mechanism"] == "exponential" for s in budget.spends),
            "noise_stddevs": [s["sigma"] for s in budget.spends if s["mechanism"] == "gaussian"],
            "model_size_mb": self.model.tree.size_mb(),
            "estimated_total": float(self.model.total),
            "binning": self.bins.summary if self.bins is not None else None,
            "workload_label": label,
            "fit_seconds": round(time.perf_counter() - started, 2),
            "device": "cpu (numpy)",
        }
        self.spends = budget.spends
        return self

    def _select_and_measure(self, fine: np.ndarray, budget: ZcdpBudget,
                            rng) -> list[Observation]:
        raise NotImplementedError

    # -- shared steps -----------------------------------------------------------------------------
    def _measure_one_ways(self, fine: np.ndarray, budget: ZcdpBudget, sigma: float,
                          rng) -> tuple[np.ndarray, list[Observation]]:
        """DP: every column's one-way counts with Gaussian noise σ (combined, by inverse
        variance, with the binning's one-way measurement of a binned column: post-processing);
        then compression (post-processing). Returns the coarse cells and the compressed
        measurements."""
        noisy, sigmas = [], []
        for j, c in enumerate(self.codec.codecs):
            counts = np.bincount(fine[:, j], minlength=c.width)
            y, s = budget.gaussian(counts, sigma=sigma, rng=rng, what=f"one-way {c.name}"), sigma
            if self.bins is not None and j in self.bins.one_ways:
                y, s = _combine(y, s, self.bins.one_ways[j], self.bins.sigmas[j])
            noisy.append(y)
            sigmas.append(s)
        self.columns = cells.compress(self.codec, noisy, thresholds=[self.compression_sigmas * s for s in sigmas])
        # The total, never n: each noisy one-way sums to it with variance (cells · σ²); the
        # inverse-variance mean is post-processing.
        sums, variances = np.array([y.sum() for y in noisy]), np.array([len(y) * s ** 2 for y, s in zip(noisy, sigmas)])
        self.total = max(1.0, float(np.average(sums, weights=1 / variances)))
        self.shape = tuple(col.size for col in self.columns)
        measurements = []
        for j, (y, s, col) in enumerate(zip(noisy, sigmas, self.columns)):
            # A coarse cell's measurement is the sum of its fine cells' (post-processing), with
            # the variance of that sum.
            mapping = np.asarray(col.mapping)
            members = np.bincount(mapping, minlength=col.size)
            measurements.append(Observation((j,), np.bincount(mapping, weights=y, minlength=col.size),
                                            members * s ** 2))
        return cells.coarse_cells(fine, self.columns), measurements

    def _names(self, clique: tuple) -> list[str]:
        """Public: the schema's column names of a clique (column indices)."""
        return [self.codec.codecs[j].name for j in clique]

    def _counts(self, coarse: np.ndarray, clique: tuple) -> np.ndarray:
        """Reads private values (not DP by itself): the exact marginal of ``clique``; only
        ever passed to a Gaussian measurement or a selection score."""
        shape = tuple(self.shape[j] for j in clique)
        flat = np.ravel_multi_index(tuple(coarse[:, j] for j in clique), shape)
        return np.bincount(flat, minlength=int(np.prod(shape))).astype(float)

    def _measure(self, coarse: np.ndarray, clique: tuple, budget: ZcdpBudget, sigma: float,
                 rng, counts: np.ndarray | None = None) -> Observation:
        """DP: a Gaussian measurement of the clique's counts (``counts`` when already computed)."""
        counts = self._counts(coarse, clique) if counts is None else counts
        y = budget.gaussian(counts, sigma=sigma, rng=rng,
                            what="marginal " + " × ".join(self._names(clique)))
        return Observation(tuple(clique), y, sigma ** 2)

    def _estimate(self, measurements: list[Observation], *, iters: int,
                  warm_start: GraphicalModel | None = None) -> GraphicalModel:
        """Post-processing: the graphical model closest to the noisy measurements (mirror
        descent, ``engine.estimate``; the total comes from the noisy one-way counts, never from n)."""
        return estimate(self.shape, measurements, total=self.total, iters=iters, tolerance=self.tolerance,
                        warm_start=warm_start)

    def model_marginals(self, cliques: list[tuple]) -> dict[tuple, np.ndarray]:
        """Post-processing: the current model's marginals (counts) of several cliques: from the
        calibrated tree when one maximal clique holds the clique, else by variable elimination."""
        held = {cl: self.model.project(cl).ravel() for cl in cliques
                if any(set(cl) <= set(c) for c in self.model.cliques)}
        potentials = list(self.model.potentials.items())
        return {cl: held[cl] if cl in held else self.model.total * eliminate(potentials, cl, self.shape).ravel()
                for cl in cliques}

    # -- sampling -------------------------------------------------------------------------------------
    def sample(self, n: int, *, seed: int = 0) -> pd.DataFrame:
        """Draw ``n`` rows from the graphical model: post-processing, no data read."""
        if n < 1:
            raise ValueError(f"the number of rows to sample must be positive, got {n}")
        if self.model is None:
            raise RuntimeError(f"{self.name} is not fitted")
        rng = np.random.default_rng(seed)
        return cells.decode(self.model.sample(n, rng), self.codec, self.columns, rng)

    # -- persistence: arrays + JSON, no pickles -------------------------------------------------------
    def save(self, directory: str | Path, *, metadata: dict) -> Path:
        cliques = list(self.model.potentials)
        arrays = {f"potential_{i}": self.model.potentials[cl] for i, cl in enumerate(cliques)}
        return persistence.save_arrays(directory, arrays, {
            "generator": self.name,
            "is_dp": self.is_dp,
            "architecture": {"max_model_size_mb": self.max_model_size_mb, "round_iters": self.round_iters,
                             "final_iters": self.final_iters, "tolerance": self.tolerance},
            "graphical_model": {"engine": "numpy", "shape": list(self.shape),
                                "cliques": [list(cl) for cl in cliques], "total": float(self.model.total)},
            "compression": [{"name": c.name, "mapping": list(c.mapping), "weights": list(c.weights)}
                            for c in self.columns],
            "codec": self.codec.to_dict(),
            "training": self.training_summary,
            **metadata,
        })

    @classmethod
    def load(cls, directory: str | Path) -> "MarginalSynthesizer":
        meta = persistence.read_meta(directory)
        arch = meta["architecture"]
        obj = cls(TableCodec.from_dict(meta["codec"]), max_model_size_mb=arch["max_model_size_mb"],
                  round_iters=arch["round_iters"], final_iters=arch["final_iters"], tolerance=arch["tolerance"])
        gm = meta["graphical_model"]
        obj.shape = tuple(gm["shape"])
        obj.columns = [cells.CompressedColumn(c["name"], tuple(c["mapping"]), tuple(c["weights"]))
                       for c in meta["compression"]]
        arrays = persistence.load_arrays(directory)
        stored = {}
        for i, cl in enumerate(gm["cliques"]):
            # Columns by index; models saved by the mbi engine named them "c<j>".
            columns = [int(a[1:]) if isinstance(a, str) else int(a) for a in cl]
            order = np.argsort(columns)
            stored[tuple(int(columns[k]) for k in order)] = np.transpose(arrays[f"potential_{i}"], order)
        tree = JunctionTree(obj.shape, list(stored))
        potentials = {c: np.zeros([obj.shape[j] for j in c]) for c in tree.cliques}
        for cl, values in stored.items():
            home = tree.home(cl)
            potentials[home] = potentials[home] + expand(values, cl, home)
        obj.model = GraphicalModel(tree, potentials, gm["total"])
        obj.training_summary = meta.get("training", {})
        return obj


def _combine(y1: np.ndarray, s1: float, y2: np.ndarray, s2: float) -> tuple[np.ndarray, float]:
    """Two independent noisy measurements of one vector as their inverse-variance mean and its σ."""
    w1, w2 = s1 ** -2, s2 ** -2
    return (w1 * y1 + w2 * y2) / (w1 + w2), (w1 + w2) ** -0.5


def l1(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.abs(np.asarray(a) - np.asarray(b)).sum())


def expected_noise_l1(sigma: float, cells_: int) -> float:
    """Expected L1 norm of Gaussian noise σ over ``cells_`` cells: √(2/π)·σ·cells."""
    return math.sqrt(2 / math.pi) * sigma * cells_


def eliminate(potentials: list[tuple[tuple, np.ndarray]], keep: tuple, domain: tuple[int, ...]) -> np.ndarray:
    """The normalised marginal over ``keep`` of exp(Σ log-potentials): variable elimination,
    smallest resulting factor first, each new factor rescaled by its maximum (constants
    cancel in the normalisation), so nothing under- or overflows."""
    factors = [(tuple(cl), np.exp(v - v.max())) for cl, v in potentials]
    remaining = {a for cl, _ in factors for a in cl} - set(keep)
    while remaining:
        def cost(a):
            return np.prod([domain[b] for b in set().union(*(cl for cl, _ in factors if a in cl))])
        var = min(remaining, key=cost)
        remaining.discard(var)
        touching = [f for f in factors if var in f[0]]
        factors = [f for f in factors if var not in f[0]]
        attrs = tuple(sorted(set().union(*(cl for cl, _ in touching)) - {var}))
        merged = _einsum(touching, attrs)
        factors.append((attrs, merged / max(merged.max(), 1e-300)))
    result = _einsum(factors, tuple(keep))
    return result / result.sum()


def _einsum(factors: list[tuple[tuple, np.ndarray]], out: tuple) -> np.ndarray:
    """Product of factors summed down to the attributes ``out`` (in that order)."""
    letters = {a: i for i, a in enumerate(sorted({a for cl, _ in factors for a in cl} | set(out)))}
    operands = []
    for cl, values in factors:
        operands += [values, [letters[a] for a in cl]]
    if not operands:
        return np.ones(())
    return np.einsum(*operands, [letters[a] for a in out], optimize=True)
