"""The candidate bin rules of ``bench/bin_rule.py``: ``synthesizers/dp_bins.dp_bins`` with the
number of bins following the budget. Not adopted (BENCHMARKS.md, "Bins that follow the budget").

Reads private values, DP, exactly as ``dp_bins.dp_bins``: the same hierarchical histograms at
the same cost, measured by the same helpers. Only the post-processing that picks the bins
differs, and it reads public values only: ``pair_sigma`` (the σ the generator's plan gives a
two-way measurement, from its ρ and rounds) and ``label_cells`` (the label's declared
categories), beside the noisy counts already bought.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from synth_pipeline.privacy.zcdp import ZcdpBudget
from synth_pipeline.synthesizers.dp_bins import (SPLIT_SIGMAS, DpBins, _binned_codec, _choose_bins, _measure_tree,
                                                 _restart, tree_levels)
from synth_pipeline.synthesizers.transforms import MAX_BINS, TableCodec

# A bin's cells in the (column × label) marginal the generator will measure (noise σ_pair)
# should clear this many σ_pair (the same 3σ as SPLIT_SIGMAS and compression).
PAIR_SIGMAS = 3.0
BIN_RULE = "cap"  # "cap": at most noisy inside count / (label cells · PAIR_SIGMAS · σ_pair) bins;
#                   "split": a node splits only while it clears label cells · PAIR_SIGMAS · σ_pair


def dp_bins(frame: pd.DataFrame, codec: TableCodec, budget: ZcdpBudget, *, rho: float, rng,
            pair_sigma: float | None = None, label_cells: int = 2) -> DpBins | None:
    """DP: spends exactly ``rho`` of ``budget``, as ``dp_bins.dp_bins`` does; the bins follow
    ``BIN_RULE`` when ``pair_sigma`` is given."""
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
        split_at, max_bins = threshold, MAX_BINS
        if pair_sigma is not None:
            cell = label_cells * PAIR_SIGMAS * pair_sigma  # the count a bin needs for its label cells to clear
            if BIN_RULE == "cap":  # from the noisy inside count (post-processing)
                max_bins = int(np.clip(float(tree[0][0]) // cell, 2, MAX_BINS))
            else:
                split_at = max(threshold, cell)
        nodes = _choose_bins(tree, split_at, max_bins)
        codecs[j] = _binned_codec(c, levels, tree, threshold, nodes)
        one_ways[j] = np.concatenate([level0[:1], [tree[lv][i] for lv, i in nodes], level0[2:]])
        sigmas[j] = sigma
        summary[c.name] = {"bins": len(nodes), "decode_pieces": len(codecs[j].piece_weights), "levels": levels,
                           "sigma": sigma, "max_bins": max_bins, "split_at": split_at}
    return DpBins(TableCodec(_restart(codecs)), one_ways, sigmas,
                  {"rho": rho, "mechanism": "Gaussian hierarchical histogram", "columns": summary})
