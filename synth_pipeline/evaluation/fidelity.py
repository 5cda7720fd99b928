"""Fidelity in the SDMetrics convention: column shapes, column-pair trends, their mean.

Reads private values, not DP; internal, aggregated: the real table is compared with the
synthetic one for the internal review; only aggregate scores leave this module. Numeric
columns are binned by their declared bounds (public) for contingency tables.
"""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
from scipy.stats import ks_2samp

from synth_pipeline.evaluation.features import AuditInputError, discrete_codes, numeric_values
from synth_pipeline.schema import ColumnSpec, TableSchema


def _tv(p_codes: np.ndarray, q_codes: np.ndarray, k: int) -> float:
    """Total variation distance of two code samples (an empty sample is as far as can be)."""
    if not len(p_codes) or not len(q_codes):
        return 0.0 if len(p_codes) == len(q_codes) else 1.0
    p = np.bincount(p_codes, minlength=k) / len(p_codes)
    q = np.bincount(q_codes, minlength=k) / len(q_codes)
    return 0.5 * float(np.abs(p - q).sum())


def _ks_complement(r: np.ndarray, s: np.ndarray) -> float:
    r, s = r[~np.isnan(r)], s[~np.isnan(s)]
    if not len(r) or not len(s):
        return 1.0 if len(r) == len(s) else 0.0  # both all-missing: the same; one only: nothing alike
    return 1.0 - float(ks_2samp(r, s).statistic)


def column_shape(real: pd.DataFrame, synthetic: pd.DataFrame, col: ColumnSpec) -> float:
    """KS complement (numeric) or TV complement (categorical): 1 is identical.
    Reads private values, not DP; internal, aggregated."""
    if col.is_numeric:
        return _ks_complement(numeric_values(real, col), numeric_values(synthetic, col))
    (r, s), k = discrete_codes([real, synthetic], col)
    return 1.0 - _tv(r, s, k)


def _correlation(x: np.ndarray, y: np.ndarray) -> float:
    both = ~(np.isnan(x) | np.isnan(y))
    x, y = x[both], y[both]
    if len(x) < 2 or np.ptp(x) == 0 or np.ptp(y) == 0:
        return 0.0  # undefined for constant columns: no linear trend
    return float(np.corrcoef(x, y)[0, 1])


def _contingency_similarity(real: tuple, synthetic: tuple, ka: int, kb: int) -> float:
    (ra, rb), (sa, sb) = real, synthetic
    return 1.0 - _tv(ra * kb + rb, sa * kb + sb, ka * kb)


def pair_trend(real: pd.DataFrame, synthetic: pd.DataFrame, a: ColumnSpec, b: ColumnSpec) -> float:
    """Correlation similarity (two numeric columns) or contingency similarity (otherwise).
    Reads private values, not DP; internal, aggregated."""
    if a.is_numeric and b.is_numeric:
        r = _correlation(numeric_values(real, a), numeric_values(real, b))
        s = _correlation(numeric_values(synthetic, a), numeric_values(synthetic, b))
        return 1.0 - abs(r - s) / 2
    (ra, sa), ka = discrete_codes([real, synthetic], a)
    (rb, sb), kb = discrete_codes([real, synthetic], b)
    return _contingency_similarity((ra, rb), (sa, sb), ka, kb)


def quality(real: pd.DataFrame, synthetic: pd.DataFrame, schema: TableSchema) -> dict:
    """Column shapes, column-pair trends and the overall quality score (their mean).

    Reads private values, not DP; internal, aggregated. Codes and numeric arrays are built
    once per column so that the pairs of a wide table stay cheap.
    """
    if not len(real) or not len(synthetic):
        raise AuditInputError("fidelity needs at least one real and one synthetic row")
    columns = schema.modelled_columns
    codes = {c.name: discrete_codes([real, synthetic], c) for c in columns}
    numbers = {c.name: (numeric_values(real, c), numeric_values(synthetic, c)) for c in columns if c.is_numeric}
    shapes = {c.name: (_ks_complement(*numbers[c.name]) if c.is_numeric
                       else 1.0 - _tv(*codes[c.name][0], codes[c.name][1])) for c in columns}
    pairs = {}
    for a, b in itertools.combinations(columns, 2):
        if a.is_numeric and b.is_numeric:
            (ra, sa), (rb, sb) = numbers[a.name], numbers[b.name]
            score = 1.0 - abs(_correlation(ra, rb) - _correlation(sa, sb)) / 2
        else:
            ((ra, sa), ka), ((rb, sb), kb) = codes[a.name], codes[b.name]
            score = _contingency_similarity((ra, rb), (sa, sb), ka, kb)
        pairs[f"{a.name}|{b.name}"] = score
    shape_score = float(np.mean(list(shapes.values()))) if shapes else float("nan")
    pair_score = float(np.mean(list(pairs.values()))) if pairs else float("nan")
    worst = sorted(pairs.items(), key=lambda kv: kv[1])[:5]
    return {
        "column_shapes": shape_score,
        "column_pair_trends": pair_score,
        "quality_score": float(np.nanmean([shape_score, pair_score])),
        "per_column": shapes,
        "worst_pairs": dict(worst),
    }


ASSOCIATED = 0.1  # a pair whose real dependence reaches this counts as associated


def _dependence(a: np.ndarray, b: np.ndarray, ka: int, kb: int, rng: np.random.Generator) -> float:
    """Association of two code columns above chance: the TV distance between their joint
    distribution and the product of the marginals, minus the same for ``b`` shuffled (the
    distance a sample of this size shows without any association); 0 when independent."""
    if not len(a):
        return 0.0

    def distance(b_codes: np.ndarray) -> float:
        joint = np.bincount(a * kb + b_codes, minlength=ka * kb).reshape(ka, kb) / len(a)
        return 0.5 * float(np.abs(joint - np.outer(joint.sum(axis=1), joint.sum(axis=0))).sum())

    return max(distance(b) - distance(rng.permutation(b)), 0.0)


def association_retention(real: pd.DataFrame, synthetic: pd.DataFrame, schema: TableSchema, *,
                          seed: int = 0) -> dict:
    """How much of the real table's associations the synthetic rows keep, over the pairs that
    are associated in the real rows (dependence above chance ≥ ASSOCIATED, over public bins):
    per pair 1 − |dep_synth − dep_real| / dep_real, clipped to [0, 1]; 1 is the same
    strength, 0 none (or double).

    The mean pair trend of SDMetrics is dominated by the many nearly independent pairs, so a
    generator that samples every column on its own still scores high there; here it scores
    near 0. Reads private values, not DP; internal, aggregated.
    """
    rng = np.random.default_rng(seed)
    columns = schema.modelled_columns
    codes = {c.name: discrete_codes([real, synthetic], c) for c in columns}
    kept = {}
    for a, b in itertools.combinations(columns, 2):
        ((ra, sa), ka), ((rb, sb), kb) = codes[a.name], codes[b.name]
        real_dep = _dependence(ra, rb, ka, kb, rng)
        if real_dep >= ASSOCIATED:
            synth_dep = _dependence(sa, sb, ka, kb, rng)
            kept[f"{a.name}|{b.name}"] = float(np.clip(1 - abs(synth_dep - real_dep) / real_dep, 0.0, 1.0))
    if not kept:
        return {"skipped": f"no pair of columns is associated in the real rows (dependence ≥ {ASSOCIATED})"}
    return {"retention": float(np.mean(list(kept.values()))), "associated_pairs": len(kept),
            "min_dependence": ASSOCIATED, "weakest_pairs": dict(sorted(kept.items(), key=lambda kv: kv[1])[:5])}
