"""The discrete view of a table for marginal-based synthesis, and its DP compression.

Fine cells: declared categories plus ``__other__`` and ``__null__`` (public schema), and for
numeric columns the data-following bins of ``synthesizers.dp_bins`` (DP, charged by the
generator) plus a point bin at each bound. They are then coarsened by post-processing of the
noisy one-way marginals, which are DP measurements charged by the caller: cells whose noisy
count is below a threshold are merged into one rare cell (MST's domain compression).
Decoding draws a fine cell inside a merged cell in proportion to its noisy count, then a
value inside the fine cell (by the bins' DP decode density): post-processing, no data read.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from synth_pipeline.synthesizers.transforms import OTHER, TableCodec

# A declared domain this wide is an identifier or free text, not something to model.
MAX_COLUMN_CELLS = 1000


class DomainTooLargeError(ValueError):
    """The declared domain cannot be modelled within the caps; says what to change."""


def check_columns(codec: TableCodec) -> None:
    """Public schema only: refuse columns whose declared domain is too wide (before any charge)."""
    for c in codec.codecs:
        if c.kind == "numeric":
            raise DomainTooLargeError(f"column {c.name!r} is numeric without bins; marginal-based generators need "
                                      "declared bounds")
        if c.width > MAX_COLUMN_CELLS:
            raise DomainTooLargeError(
                f"column {c.name!r} declares {c.width - 1} categories, more than the {MAX_COLUMN_CELLS - 1} a "
                "marginal-based generator models: if it is an identifier or free text, mark it "
                "`role: direct_identifier` (the PII scan lists such columns) so it is dropped; otherwise declare "
                "coarser categories in the schema")


@dataclass(frozen=True)
class CompressedColumn:
    """One column's coarse cells: ``mapping[fine] = coarse``; ``weights[fine]`` the decode
    weight of each fine cell inside its coarse cell (clipped noisy counts, DP)."""

    name: str
    mapping: tuple[int, ...]
    weights: tuple[float, ...]

    @property
    def size(self) -> int:
        return max(self.mapping) + 1


def compress(codec: TableCodec, noisy_counts: list[np.ndarray], thresholds: list[float]) -> list[CompressedColumn]:
    """Post-processing of the noisy one-way counts: a column's fine cells under its threshold
    share one coarse cell (kept apart when only one is under it). ``__other__`` gets weight 0:
    it is never decoded."""
    columns = []
    for c, y, threshold in zip(codec.codecs, noisy_counts, thresholds):
        keep = y >= threshold
        mapping = np.zeros(len(y), dtype=int)
        if keep.sum() >= len(y) - 1:
            mapping[:] = np.arange(len(y))
        else:
            mapping[keep] = np.arange(int(keep.sum()))
            mapping[~keep] = int(keep.sum())
        weights = np.clip(y, 0.0, None)
        if c.kind == "discrete":
            weights[c.categories.index(OTHER)] = 0.0
        columns.append(CompressedColumn(c.name, tuple(int(m) for m in mapping), tuple(float(w) for w in weights)))
    return columns


def coarse_cells(fine: np.ndarray, columns: list[CompressedColumn]) -> np.ndarray:
    """Fine cell indices (n × d) to coarse ones."""
    return np.stack([np.asarray(col.mapping)[fine[:, j]] for j, col in enumerate(columns)], axis=1)


def decode(coarse: np.ndarray, codec: TableCodec, columns: list[CompressedColumn],
           rng: np.random.Generator) -> pd.DataFrame:
    """Post-processing: a fine cell for each coarse cell in proportion to its decode weight
    (uniform over the non-``__other__`` members when all weights are 0), then a value."""
    fine = np.empty_like(coarse)
    for j, (c, col) in enumerate(zip(codec.codecs, columns)):
        mapping, weights = np.asarray(col.mapping), np.asarray(col.weights)
        emittable = np.ones(len(mapping), dtype=bool)
        if c.kind == "discrete":
            emittable[c.categories.index(OTHER)] = False
        fallback = int(np.argmax(np.where(emittable, weights + 1e-12, -1.0)))
        for cell in np.unique(coarse[:, j]):
            rows = np.flatnonzero(coarse[:, j] == cell)
            members = np.flatnonzero((mapping == cell) & emittable)
            if not len(members):  # a cell holding only __other__: the most common declared cell
                fine[rows, j] = fallback
                continue
            w = weights[members]
            p = w / w.sum() if w.sum() > 0 else np.full(len(members), 1.0 / len(members))
            fine[rows, j] = rng.choice(members, size=len(rows), p=p)
    return codec.decode_cells(fine, rng)
