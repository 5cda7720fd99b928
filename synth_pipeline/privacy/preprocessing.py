"""DP statistics for columns the schema leaves open: bounds of numeric columns, category
sets of categorical columns, (for the conditional GAN) category frequencies, and the row
count when the synthetic table's size is left to the data. The leak every peer library has
is fitting these on raw values (or reading n); here they come from one Gaussian mechanism
charged with the run.

Reads private values, DP. Privacy unit: one row, add/remove, by default; it adds one to one
histogram bin per open column (and one to the count), so the joint L2 sensitivity of the k
histograms is √k. With a person unit of at most m rows (``rows_per_unit``, rows bounded
first: ``privacy.contribution``) a person adds at most m to one bin of each: m·√k. Every count gets Gaussian noise of standard deviation ``noise_std`` from
the secret source (never seeded); the ledger charges a Gaussian event with noise
multiplier ``noise_std / √k`` (composed with DP-SGD under RDP), plus ``threshold_delta`` for
category discovery: a value held by a single row passes the release threshold with
probability at most ``threshold_delta / k_categorical``.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, replace

import numpy as np
import pandas as pd
from scipy.stats import norm

from synth_pipeline.privacy.secret_random import secret_rng
from synth_pipeline.schema import ColumnSpec, number_label

PREPROCESSING_SHARE = 0.1  # share of the run's ε spent on DP statistics, when any are needed
# The marginal-based generators keep their budget in ρ: a share of the run's ρ buys the open
# domains (about 30% of ε at ε=1: ε grows like √ρ), in the same zCDP ledger event.
DOMAIN_RHO_SHARE = 0.1
COUNT_ONLY_SHARE = 0.02  # when only the row count is needed (σ ≈ 90 rows at ε = 3: ample for a table size)
THRESHOLD_DELTA_SHARE = 0.1  # share of the run's δ given to category discovery
TAIL_MASS = 0.005  # DP bounds cut this noisy mass off each tail
MAX_DISCOVERED_CATEGORIES = 200
# DP bounds: the chance that any empty cell of the 96-cell grid clears the threshold, per column.
# At 3σ it was 12% per column, and a spurious cell at ±10^11 became a bound (seen on drafted
# tables at ε=1: a year column bounded [1000, 10^11], a schooling one [-5·10^8, 20]).
SPURIOUS_CELL_CHANCE = 1e-3
BOUNDS_MECHANISM = "Gaussian histogram on a fixed grid"
CATEGORIES_MECHANISM = "Gaussian counts with a threshold"


class PreprocessingError(ValueError):
    """DP statistics cannot describe this column; the message says what to declare."""


def joint_sensitivity(histograms: int, *, replace_one: bool, rows_per_unit: int = 1) -> float:
    """L2 sensitivity of ``histograms`` counts a row adds one to: √k under add/remove, √(2k)
    under replace-one (−1 in one cell, +1 in another of each); times m for a person of at
    most m rows (all m in one cell of each histogram is the worst case)."""
    return rows_per_unit * math.sqrt(histograms * (2 if replace_one else 1))


def needs_dp_bounds(col: ColumnSpec) -> bool:
    return col.is_numeric and col.bounds is None


def needs_dp_categories(col: ColumnSpec) -> bool:
    return col.type == "categorical" and col.categories is None


def discovery_delta(columns: list[ColumnSpec], delta: float) -> float:
    """The δ set aside for category discovery's thresholds: THRESHOLD_DELTA_SHARE of the run's
    δ when some categorical column is open, else 0. Public schema only."""
    return delta * THRESHOLD_DELTA_SHARE if any(needs_dp_categories(c) for c in columns) else 0.0


def widest_domains(columns: list[ColumnSpec]) -> list[ColumnSpec]:
    """Public schema only: open columns stand in with the widest domain DP statistics can give
    them (bins over some bounds; the most categories discovery keeps), so that a generator's
    domain and model-size checks refuse BEFORE the charge what could only fail after it."""
    def widest(col: ColumnSpec) -> ColumnSpec:
        if needs_dp_bounds(col):
            return replace(col, bounds=(0.0, 1.0e6))  # its width only: no value meets this codec
        if needs_dp_categories(col):
            return replace(col, categories=tuple(f"c{i}" for i in range(MAX_DISCOVERED_CATEGORIES)))
        return col
    return [widest(c) for c in columns]


@dataclass(frozen=True)
class PreprocessingPlan:
    numeric: tuple[str, ...]
    categorical: tuple[str, ...]
    noise_std: float  # per count
    threshold_delta: float
    marginals: tuple[str, ...] = ()  # discrete columns whose category frequencies are released
    count: bool = False  # a DP row count (the synthetic table's size when the user sets none)
    replace_one: bool = False  # replace-one neighbours: a row moves two cells of each histogram
    rho: float | None = None  # zCDP plans (marginal-based generators): what the Gaussian part costs
    rows_per_unit: int = 1  # a person's rows (at most): each count moves by up to this much

    @property
    def columns(self) -> int:
        """Histograms a row contributes to: one per open numeric column, one per discrete
        column counted (discovery and frequencies of one column share one histogram), and
        the row count."""
        return len(self.numeric) + len(set(self.categorical) | set(self.marginals)) + int(self.count)

    @property
    def noise_multiplier(self) -> float:
        """Noise std over the joint L2 sensitivity (``joint_sensitivity``): what the accountant sees."""
        return self.noise_std / joint_sensitivity(self.columns, replace_one=self.replace_one,
                                                  rows_per_unit=self.rows_per_unit)

    @property
    def column_rho(self) -> float:
        """zCDP cost of ONE column's histogram (Δ²/2σ², Δ² = m², or 2m² under replace-one, m
        the rows of a person): the columns share the Gaussian release equally, so ``rho`` =
        columns · column_rho."""
        return joint_sensitivity(1, replace_one=self.replace_one, rows_per_unit=self.rows_per_unit) ** 2 / (
            2.0 * self.noise_std ** 2)

    @property
    def column_threshold_delta(self) -> float:
        """δ of one discovered category set (the chance a single row's value passes the threshold)."""
        return self.threshold_delta / max(len(self.categorical), 1) if self.categorical else 0.0

    def column_cost(self, name: str) -> dict | None:
        """What buying column ``name``'s domain (and frequencies) cost: its share of the
        Gaussian release as ρ (zCDP, of the joint release's ρ) and, for discovered
        categories, the threshold's δ. None when the plan does not touch the column."""
        if name not in set(self.numeric) | set(self.categorical) | set(self.marginals):
            return None
        what = ("bounds" if name in self.numeric else "categories" if name in self.categorical else "frequencies")
        return {"bought": what, "mechanism": {"bounds": BOUNDS_MECHANISM, "categories": CATEGORIES_MECHANISM}
                .get(what, "Gaussian counts"),
                "rho": self.column_rho, "delta": self.column_threshold_delta if what == "categories" else 0.0}

    def as_dict(self) -> dict:
        return asdict(self)


def candidate_edges() -> np.ndarray:
    """A data-independent grid for numeric columns without bounds: 0 and ±{1, 2, 5}·10^e,
    e from -3 to 12. DP bounds land on these edges."""
    positive = np.array([m * 10.0 ** e for e in range(-3, 13) for m in (1, 2, 5)])
    return np.concatenate([-positive[::-1], [0.0], positive])


def bounds_threshold_sigmas() -> float:
    """Noise deviations a cell of the bounds grid must clear: a union bound over its cells, so
    that an empty cell anywhere survives with probability SPURIOUS_CELL_CHANCE (public)."""
    return float(norm.isf(SPURIOUS_CELL_CHANCE / (len(candidate_edges()) - 1)))


def dp_bounds(values: pd.Series, *, noise_std: float, rng, integer: bool) -> tuple[float, float]:
    """Noisy histogram on the candidate grid; cells under ``bounds_threshold_sigmas()`` noise
    deviations are dropped (an empty cell anywhere on the grid survives with probability
    SPURIOUS_CELL_CHANCE), then TAIL_MASS is cut off each end."""
    edges = candidate_edges()
    x = pd.to_numeric(values, errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    x = np.clip(x[np.isfinite(x)], edges[0], edges[-1])
    counts = np.histogram(x, bins=edges)[0].astype(float)
    noisy = counts + rng.normal(0.0, noise_std, size=counts.shape)
    noisy = np.where(noisy > bounds_threshold_sigmas() * noise_std, noisy, 0.0)
    total = noisy.sum()
    if total <= 0:
        raise PreprocessingError("too few rows for DP bounds: declare `bounds` in the schema")
    cdf = np.cumsum(noisy) / total
    lower = edges[int(np.searchsorted(cdf, TAIL_MASS, side="right"))]
    upper = edges[min(len(edges) - 1, int(np.searchsorted(cdf, 1 - TAIL_MASS)) + 1)]
    if integer:
        lower, upper = math.floor(lower), math.ceil(upper)
    if upper <= lower:
        upper = lower + 1
    return float(lower), float(upper)


def dp_categories(values: pd.Series, *, noise_std: float, threshold: float,
                  rng) -> dict[str, float]:
    """Values whose noisy count passes the threshold, sorted by name (not by count), with
    their noisy counts (DP too: frequencies for the conditional GAN reuse them)."""
    counts = values.dropna().astype("string").value_counts()
    noisy = counts.to_numpy(dtype=float) + rng.normal(0.0, noise_std, size=len(counts))
    kept = {str(v): float(c) for v, c in sorted(zip(counts.index, noisy)) if c > threshold}
    if not kept:
        raise PreprocessingError("no category passed the DP threshold: declare `categories` in the schema")
    if len(kept) > MAX_DISCOVERED_CATEGORIES:
        raise PreprocessingError(f"more than {MAX_DISCOVERED_CATEGORIES} categories passed the DP threshold: "
                                 "declare the categories, coarsen the column, or mark it an identifier")
    return kept


def plan_preprocessing(columns: list[ColumnSpec], *, epsilon: float, delta: float,
                       marginals: bool = False, count: bool = False,
                       replace_one: bool = False, rows_per_unit: int = 1) -> PreprocessingPlan | None:
    """Noise for a share of the run's ε over the open columns (with ``marginals``, the
    frequencies of every discrete column; with ``count``, the row count); None when nothing
    needs DP statistics."""
    from synth_pipeline.privacy.accounting import calibrate_gaussian

    numeric = tuple(c.name for c in columns if needs_dp_bounds(c))
    categorical = tuple(c.name for c in columns if needs_dp_categories(c))
    frequencies = tuple(c.name for c in columns if c.type in ("categorical", "boolean")
                        or c.discrete_numbers is not None) if marginals else ()
    if not numeric and not categorical and not frequencies and not count:
        return None
    threshold_delta = discovery_delta(columns, delta)
    share = PREPROCESSING_SHARE if numeric or categorical or frequencies else COUNT_ONLY_SHARE
    multiplier = calibrate_gaussian(target_epsilon=epsilon * share, delta=delta - threshold_delta)
    k = len(numeric) + len(set(categorical) | set(frequencies)) + int(count)
    return PreprocessingPlan(numeric, categorical,
                             multiplier * joint_sensitivity(k, replace_one=replace_one, rows_per_unit=rows_per_unit),
                             threshold_delta, frequencies, count, replace_one, rows_per_unit=rows_per_unit)


def plan_domain_discovery(columns: list[ColumnSpec], *, rho: float, delta: float,
                          replace_one: bool = False, rows_per_unit: int = 1) -> PreprocessingPlan | None:
    """The marginal-based generators' DP domains: bounds of open numeric columns and category
    sets of open categorical ones, from the same histograms as ``release_statistics``, for
    ``DOMAIN_RHO_SHARE`` of the run's ``rho`` (one Gaussian release of joint sensitivity √k,
    ρ = k·Δ²/2σ²) and THRESHOLD_DELTA_SHARE of ``delta`` when categories are discovered.
    None when the schema declares every domain. Public facts only (names, types)."""
    numeric = tuple(c.name for c in columns if needs_dp_bounds(c))
    categorical = tuple(c.name for c in columns if needs_dp_categories(c))
    if not numeric and not categorical:
        return None
    k = len(numeric) + len(categorical)
    share = DOMAIN_RHO_SHARE * rho
    noise_std = joint_sensitivity(k, replace_one=replace_one, rows_per_unit=rows_per_unit) / math.sqrt(2.0 * share)
    return PreprocessingPlan(numeric, categorical, noise_std, discovery_delta(columns, delta),
                             replace_one=replace_one, rho=share, rows_per_unit=rows_per_unit)


def dp_row_count(frame: pd.DataFrame, *, noise_std: float, rng) -> int:
    """DP: the number of rows plus Gaussian noise (sensitivity 1, or m for a person of at
    most m rows: ``noise_std`` is calibrated to it), rounded, at least 1."""
    return max(1, int(round(len(frame) + rng.normal(0.0, noise_std))))


def release_statistics(frame: pd.DataFrame, columns: list[ColumnSpec],
                       plan: PreprocessingPlan) -> tuple[list[ColumnSpec], dict, int | None]:
    """DP: the columns with DP bounds and categories filled in, the released statistics, and
    the DP row count (None unless the plan asks for it)."""
    rng = secret_rng()
    per_column_delta = plan.threshold_delta / max(len(plan.categorical), 1)
    # A person of k rows opens at most k new values, each counting at most k: at threshold
    # k + σ·isf(δ'/k) each passes with probability ≤ δ'/k, so any of them with at most δ'.
    k = plan.rows_per_unit
    threshold = k + plan.noise_std * float(norm.isf(per_column_delta / k)) if plan.categorical else math.inf
    released, filled, discovered = {}, [], {}
    for col in columns:
        if col.name in plan.numeric:
            bounds = dp_bounds(frame[col.name], noise_std=plan.noise_std, rng=rng, integer=col.type == "integer")
            col = replace(col, bounds=bounds)
            released[col.name] = {"bounds": list(bounds), "mechanism": BOUNDS_MECHANISM}
        elif col.name in plan.categorical:
            try:
                cats = dp_categories(frame[col.name], noise_std=plan.noise_std, threshold=threshold, rng=rng)
            except PreprocessingError as exc:
                raise PreprocessingError(f"column {col.name!r}: {exc}") from None
            discovered[col.name] = cats
            col = replace(col, categories=tuple(cats))
            released[col.name] = {"categories": list(cats), "mechanism": CATEGORIES_MECHANISM,
                                  "threshold": threshold}
        filled.append(col)
    for col in filled:
        if col.name in plan.marginals:
            released.setdefault(col.name, {})["frequencies"] = _dp_frequencies(
                frame[col.name], col, plan.noise_std, rng, discovered.get(col.name))
    rows = dp_row_count(frame, noise_std=plan.noise_std, rng=rng) if plan.count else None
    return filled, released, rows


def _dp_frequencies(values: pd.Series, col: ColumnSpec, noise_std: float, rng,
                    discovered: dict[str, float] | None) -> dict[str, float]:
    """Category frequencies from noisy counts over the (declared or discovered) value set;
    discovered columns reuse their discovery counts, so the histogram is released once."""
    if discovered is not None:
        noisy = discovered
    else:
        text = values.astype("string")
        if col.discrete_numbers is not None:  # counted by the declared numbers' labels
            integer = col.type == "integer"
            text = pd.to_numeric(values, errors="coerce").map(
                lambda v: number_label(v, integer=integer) if np.isfinite(v) else None)
        counts = text.value_counts()
        noisy = {v: float(counts.get(v, 0)) + float(rng.normal(0.0, noise_std)) for v in col.cell_labels}
    clipped = {v: max(c, 0.0) for v, c in noisy.items()}
    total = sum(clipped.values())
    if total <= 0:
        return {v: 1.0 / len(clipped) for v in clipped}
    return {v: c / total for v, c in clipped.items()}


def schema_with_statistics(schema, released: dict):
    """The schema with the DP statistics of a release filled in (for sampling and the audit)."""
    columns = []
    for col in schema.columns:
        stats = released.get(col.name, {})
        if "bounds" in stats:
            col = replace(col, bounds=tuple(stats["bounds"]))
        if "categories" in stats:
            col = replace(col, categories=tuple(stats["categories"]))
        columns.append(col)
    return replace(schema, columns=tuple(columns))
