"""Data-following bins for the numeric columns of the marginal-based generators, under DP.

Reads private values, DP. For every binned numeric column (``TableCodec`` "binned", inside
bounds the schema declares or DP statistics bought), a hierarchical histogram: level 0
counts the rows at the lower bound, strictly inside, at the upper bound (and missing, where
nullable); level l = 1…L counts the inside rows over 2^l equal-width cells. Each level is a
partition of the rows (L2 sensitivity 1, √2 under replace-one), measured once with Gaussian
noise σ on the generator's ``ZcdpBudget``, drawn from its secret source: (L + 1)·Δ²/(2σ²) per
column, ``BINNING_SHARE`` of the model's ρ over all binned columns. The rest is
post-processing of those noisy counts:

- the bins: tree nodes split best-first (the largest noisy count first) while a node clears
  ``SPLIT_SIGMAS``·σ and the column has fewer than ``MAX_BINS``, so dense ranges get narrow
  bins and empty ranges none (a DP quantile-like binning; PrivTree's idea with every level
  measured up front, so the stopping rule costs nothing);
- the decode density: piecewise uniform over the tree nodes that stop splitting by the same
  rule, each with its share of the mass passed down by the noisy counts, so a value is
  decoded inside its bin from DP information, not uniformly over a wide bin;
- a one-way measurement of the column over its new cells (each bin is one measured node),
  which the generator adds to its own one-way measurement of that column.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from synth_pipeline.privacy.zcdp import ZcdpBudget
from synth_pipeline.synthesizers.transforms import MAX_BINS, NULL, ColumnCodec, TableCodec, with_bins

BINNING_SHARE = 0.1  # of the model's ρ, when some column is binned
TREE_LEVELS = 12  # 4,096 leaf cells inside the bounds (fewer for narrow integer ranges)
SPLIT_SIGMAS = 3.0  # a node splits (and its counts steer decoding) when its noisy count clears this many σ


@dataclass(frozen=True)
class DpBins:
    """The codec with data-following bins, and the one-way measurement that came with them."""

    codec: TableCodec
    one_ways: dict[int, np.ndarray]  # column index → noisy counts over its cells, noise σ each
    sigmas: dict[int, float]
    summary: dict


def tree_levels(c: ColumnCodec) -> int:
    """Public schema only: L, so that integer columns get leaf cells at least one unit wide."""
    lo, hi = c.bounds
    if not c.integer:
        return TREE_LEVELS
    return int(min(TREE_LEVELS, max(1, np.floor(np.log2(max(hi - lo, 2.0))))))


def dp_bins(frame: pd.DataFrame, codec: TableCodec, budget: ZcdpBudget, *, rho: float, rng) -> DpBins | None:
    """DP: spends exactly ``rho`` of ``budget`` (split evenly over the binned columns) on their
    hierarchical histograms; None (nothing spent) when no column is binned."""
    binned = [j for j, c in enumerate(codec.codecs) if c.kind == "binned"]
    if not binned:
        return None
    codecs, one_ways, sigmas, summary = list(codec.codecs), {}, {}, {}
    for j in binned:
        c = codec.codecs[j]
        levels = tree_levels(c)
        sigma = budget.sigma_for(rho / len(binned) / (levels + 1))
        level0, tree = _measure_tree(frame[c.name], c, levels, budget, sigma, rng)
        threshold = SPLIT_SIGMAS * sigma
        nodes = _choose_bins(tree, threshold)
        codecs[j] = _binned_codec(c, levels, tree, threshold, nodes)
        one_ways[j] = np.concatenate([level0[:1], [tree[lv][i] for lv, i in nodes], level0[2:]])
        sigmas[j] = sigma
        summary[c.name] = {"bins": len(nodes), "decode_pieces": len(codecs[j].piece_weights), "levels": levels,
                           "sigma": sigma}
    return DpBins(TableCodec(_restart(codecs)), one_ways, sigmas,
                  {"rho": rho, "mechanism": "Gaussian hierarchical histogram", "columns": summary})


def _measure_tree(values: pd.Series, c: ColumnCodec, levels: int, budget: ZcdpBudget, sigma: float,
                  rng) -> tuple[np.ndarray, list[np.ndarray]]:
    """DP: the noisy level-0 counts [at lower, inside, at upper(, missing)] and the noisy
    counts of levels 0…L of the tree over the inside rows (level 0: the inside count)."""
    leaves = 2 ** levels
    cells = TableCodec([_leaf_codec(c, levels)]).encode_cells(values.to_frame())[:, 0]
    counts = np.bincount(cells, minlength=leaves + 2 + (NULL in c.categories))
    inside = counts[1:leaves + 1]
    level0 = np.concatenate([[counts[0], inside.sum()], counts[leaves + 1:]])
    level0 = budget.gaussian(level0, sigma=sigma, rng=rng, what=f"bins of {c.name}: level 0")
    tree = [level0[1:2]]
    for level in range(1, levels + 1):
        node_counts = inside.reshape(2 ** level, -1).sum(axis=1)
        tree.append(budget.gaussian(node_counts, sigma=sigma, rng=rng, what=f"bins of {c.name}: level {level}"))
    return level0, tree


def _leaf_codec(c: ColumnCodec, levels: int) -> ColumnCodec:
    """Public schema only: the column cut into 2^L equal-width leaf cells (plus the point bins)."""
    return with_bins(replace(c, start=0), tuple(float(v) for v in np.linspace(*c.bounds, 2 ** levels + 1)))


def _splits(tree: list[np.ndarray], level: int, i: int, threshold: float) -> bool:
    """Post-processing: whether node (level, i) has children worth telling apart: its noisy
    count clears ``threshold`` and its children's clipped noisy counts are not all 0."""
    return (level < len(tree) - 1 and tree[level][i] >= threshold
            and np.clip(tree[level + 1][2 * i:2 * i + 2], 0.0, None).sum() > 0)


def _choose_bins(tree: list[np.ndarray], threshold: float, max_bins: int = MAX_BINS) -> list[tuple[int, int]]:
    """Post-processing: the tree nodes (level, index) that become bins, left to right (a node
    splits while it clears ``threshold`` and the column has fewer than ``max_bins``)."""
    final, heap = [], [(-float(tree[0][0]), 0, 0)]
    while heap:
        negative, level, i = heapq.heappop(heap)
        if _splits(tree, level, i, threshold) and len(heap) + len(final) + 2 <= max_bins:
            for child in (2 * i, 2 * i + 1):
                heapq.heappush(heap, (-float(tree[level + 1][child]), level + 1, child))
        else:
            final.append((level, i))
    return sorted(final, key=lambda node: _span(node, len(tree) - 1)[0])


def _pieces(tree: list[np.ndarray], threshold: float) -> tuple[list[tuple[int, int]], list[float]]:
    """Post-processing: the decode density, piecewise uniform: every node that splits passes
    its mass to its children by their clipped noisy counts; the nodes that do not are the
    pieces, left to right, with their masses (summing to 1). Every bin is a union of pieces
    (a bin's node splits, or is a piece, by the same rule)."""
    pieces, masses, stack = [], [], [(0, 0, 1.0)]
    while stack:
        level, i, mass = stack.pop()
        if not _splits(tree, level, i, threshold):
            pieces.append((level, i))
            masses.append(mass)
            continue
        children = np.clip(tree[level + 1][2 * i:2 * i + 2], 0.0, None)
        stack += [(level + 1, 2 * i + 1, mass * children[1] / children.sum()),
                  (level + 1, 2 * i, mass * children[0] / children.sum())]
    return pieces, masses


def _span(node: tuple[int, int], levels: int) -> tuple[int, int]:
    """The leaf cells [first, last) a tree node covers."""
    level, i = node
    width = 2 ** (levels - level)
    return i * width, (i + 1) * width


def _binned_codec(c: ColumnCodec, levels: int, tree: list[np.ndarray], threshold: float,
                  nodes: list[tuple[int, int]]) -> ColumnCodec:
    """Post-processing: the column's codec with the chosen bins as edges and the decode pieces."""
    leaf_edges = np.linspace(*c.bounds, 2 ** levels + 1)

    def edges_of(spans):
        return tuple(float(leaf_edges[s[0]]) for s in spans) + (float(leaf_edges[-1]),)

    pieces, masses = _pieces(tree, threshold)
    return with_bins(c, edges_of([_span(n, levels) for n in nodes]),
                     piece_edges=edges_of([_span(n, levels) for n in pieces]),
                     piece_weights=tuple(float(m) for m in masses))


def _restart(codecs: list[ColumnCodec]) -> list[ColumnCodec]:
    """The codecs with their start offsets recomputed after some widths changed."""
    out, start = [], 0
    for c in codecs:
        out.append(replace(c, start=start, null_start=None if c.null_start is None else start + 1))
        start += c.width
    return out
