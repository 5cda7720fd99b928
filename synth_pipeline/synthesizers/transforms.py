"""Column transforms built from the public schema only, never fitted on rows.

Uses public schema only: numeric columns are either scaled to [-1, 1] with their declared
bounds ("scaled") or cut into equal-width bins over the declared range plus one point bin
at each bound ("binned": zeros and caps are common spikes; the marginal generators then
replace these bins by DP ones that follow the data, ``synthesizers.dp_bins``), values
outside the bounds clipped; discrete columns are one-hot over their declared categories (numeric columns
with declared ``values``, or integers over a small declared range, are discrete too, and
decode to exactly those numbers)
plus an explicit ``__other__`` bucket for unknown values (and ``__null__`` where nullable).
No min/max, unique values or mixture model is read from the private table (docs/privacy.md,
"Where DP-SGD generators usually break").
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace

import numpy as np
import pandas as pd

from synth_pipeline.schema import ColumnSpec

OTHER = "__other__"
NULL = "__null__"


class UnmodellableColumnError(ValueError):
    """A column the generators cannot learn from public facts alone."""


@dataclass(frozen=True)
class ColumnCodec:
    name: str
    kind: str  # "numeric", "binned" or "discrete"
    start: int
    width: int
    bounds: tuple[float, float] | None = None
    integer: bool = False
    categories: tuple[str, ...] = ()  # discrete: declared categories + OTHER (+ NULL)
    null_start: int | None = None  # numeric + nullable: a 2-wide [present, null] one-hot
    edges: tuple[float, ...] = ()  # binned: interior bin edges from lower to upper bound
    numbers: tuple[float, ...] = ()  # discrete numeric: the value of each declared category, in order
    # binned with DP bins (synthesizers.dp_bins): a piecewise-uniform decode density from DP
    # counts, pieces [piece_edges[k], piece_edges[k+1]) with masses piece_weights[k], each bin
    # a union of pieces, so a value is decoded inside its bin by DP weights, not uniformly
    piece_edges: tuple[float, ...] = ()
    piece_weights: tuple[float, ...] = ()

    @property
    def n_bins(self) -> int:
        return len(self.edges) - 1 + 2  # interior bins + a point bin at each bound


MAX_BINS = 32


def _bin_edges(spec: ColumnSpec) -> tuple[float, ...]:
    """Equal-width bins over the declared range (small integer ranges are discrete instead)."""
    lo, hi = spec.bounds
    return tuple(float(v) for v in np.linspace(lo, hi, MAX_BINS + 1))


def _codec_for(spec: ColumnSpec, start: int, numeric_encoding: str) -> tuple[ColumnCodec, int]:
    numbers = spec.discrete_numbers  # a code list or a small integer range: discrete, in both encodings
    if spec.is_numeric and numbers is None:
        return _numeric_codec(spec, start, numeric_encoding)
    if spec.cell_labels is None:
        raise UnmodellableColumnError(
            f"column {spec.name!r} is free text (type {spec.type}); declare it a direct_identifier to drop it, "
            "or make it categorical with its categories")
    cats = tuple(spec.cell_labels) + (OTHER,) + ((NULL,) if spec.nullable else ())
    return ColumnCodec(spec.name, "discrete", start, len(cats), spec.bounds, spec.type == "integer",
                       categories=cats, numbers=numbers or ()), start + len(cats)


def _numeric_codec(spec: ColumnSpec, start: int, numeric_encoding: str) -> tuple[ColumnCodec, int]:
    """A continuous numeric column: bins over its declared range, or one scaled value."""
    if spec.bounds is not None and numeric_encoding == "binned":
        codec = with_bins(ColumnCodec(spec.name, "binned", start, 0, spec.bounds, spec.type == "integer",
                                      categories=(NULL,) if spec.nullable else ()), _bin_edges(spec))
        return codec, start + codec.width
    # Compare with None: a declared bound of 0 is a bound.
    if spec.bounds is None:
        raise UnmodellableColumnError(
            f"column {spec.name!r} has no declared bounds; declare `bounds: [lower, upper]` in the schema "
            "(the DP generators buy open bounds with DP statistics before building this codec)")
    width = 1
    null_start = None
    if spec.nullable:
        null_start, width = start + 1, 3
    return ColumnCodec(spec.name, "numeric", start, width, spec.bounds, spec.type == "integer",
                       null_start=null_start), start + width


def with_bins(c: ColumnCodec, edges: tuple[float, ...], *, piece_edges: tuple[float, ...] = (),
              piece_weights: tuple[float, ...] = ()) -> ColumnCodec:
    """A binned column's codec with these bin edges (and decode pieces): its cells are a point
    bin at each bound, the interior bins, and ``__null__`` where it had one."""
    cats = tuple(f"bin{i}" for i in range(len(edges) + 1)) + ((NULL,) if NULL in c.categories else ())
    return replace(c, width=len(cats), categories=cats, edges=tuple(edges), piece_edges=tuple(piece_edges),
                   piece_weights=tuple(piece_weights))


class TableCodec:
    """Encodes a frame to a float matrix and decodes model outputs back to a frame."""

    def __init__(self, codecs: list[ColumnCodec]):
        self.codecs = codecs
        self.width = sum(c.width for c in codecs)

    @classmethod
    def from_schema(cls, columns: list[ColumnSpec], *, numeric_encoding: str = "binned") -> "TableCodec":
        if numeric_encoding not in ("binned", "scaled"):
            raise ValueError(f"numeric_encoding must be 'binned' or 'scaled', got {numeric_encoding!r}")
        codecs, start = [], 0
        for spec in columns:
            codec, start = _codec_for(spec, start, numeric_encoding)
            codecs.append(codec)
        return cls(codecs)

    @property
    def names(self) -> list[str]:
        return [c.name for c in self.codecs]

    def encode(self, frame: pd.DataFrame) -> np.ndarray:
        out = np.zeros((len(frame), self.width), dtype=np.float32)
        for c in self.codecs:
            col = frame[c.name]
            if c.kind == "numeric":
                values = pd.to_numeric(col, errors="coerce").to_numpy(dtype=float, na_value=np.nan)
                missing = ~np.isfinite(values)
                lo, hi = c.bounds
                scaled = 2 * (np.clip(np.nan_to_num(values, nan=lo), lo, hi) - lo) / (hi - lo) - 1
                out[:, c.start] = np.where(missing, 0.0, scaled)
                if c.null_start is not None:
                    out[:, c.null_start] = ~missing
                    out[:, c.null_start + 1] = missing
            else:
                out[np.arange(len(frame)), c.start + _cell_index(col, c)] = 1.0
        return out

    def decode(self, numeric: np.ndarray, logits: np.ndarray, rng: np.random.Generator) -> pd.DataFrame:
        """Turn model outputs into rows: numeric means mapped back to the declared range,
        categories drawn from the softmax. The ``__other__`` bucket is never emitted."""
        data = {}
        for c in self.codecs:
            if c.kind == "numeric":
                lo, hi = c.bounds
                values = (np.clip(numeric[:, c.start], -1, 1) + 1) / 2 * (hi - lo) + lo
                if c.integer:
                    values = np.clip(np.rint(values), np.ceil(lo), np.floor(hi))
                series = pd.Series(values, dtype="float64")
                if c.null_start is not None:
                    is_null = _draw(logits[:, c.null_start:c.null_start + 2], rng) == 1
                    series[is_null] = np.nan
                if c.integer:
                    series = series.astype("Int64")
                data[c.name] = series
            else:
                block = logits[:, c.start:c.start + c.width].copy()
                if c.kind == "discrete":
                    block[:, c.categories.index(OTHER)] = -np.inf
                data[c.name] = _cell_values(_draw(block, rng), c, rng)
        return pd.DataFrame(data)

    def encode_cells(self, frame: pd.DataFrame) -> np.ndarray:
        """One cell index per row and column (binned numeric and discrete columns only): the
        discrete view the marginal-based generators model."""
        return np.stack([_cell_index(frame[c.name], c) for c in self.codecs], axis=1)

    def decode_cells(self, cells: np.ndarray, rng: np.random.Generator) -> pd.DataFrame:
        """Rows from cell indices: a value drawn inside each bin, a category for each cell.
        Callers keep ``__other__`` out of ``cells`` (it is never emitted)."""
        return pd.DataFrame({c.name: _cell_values(cells[:, j], c, rng) for j, c in enumerate(self.codecs)})

    def to_dict(self) -> dict:
        return {"codecs": [asdict(c) for c in self.codecs]}

    @classmethod
    def from_dict(cls, raw: dict) -> "TableCodec":
        codecs = []
        for c in raw["codecs"]:
            c = dict(c)
            c["bounds"] = tuple(c["bounds"]) if c["bounds"] is not None else None
            c["categories"] = tuple(c["categories"])
            c["edges"] = tuple(c.get("edges", ()))
            c["numbers"] = tuple(c.get("numbers", ()))
            c["piece_edges"] = tuple(c.get("piece_edges", ()))
            c["piece_weights"] = tuple(c.get("piece_weights", ()))
            codecs.append(ColumnCodec(**c))
        return cls(codecs)


def _cell_index(col: pd.Series, c: ColumnCodec) -> np.ndarray:
    """The cell of each value: its bin (binned numeric) or category, unknown values in
    ``__other__``, missing ones in ``__null__`` when declared nullable."""
    if c.kind == "binned":
        values = pd.to_numeric(col, errors="coerce").to_numpy(dtype=float, na_value=np.nan)
        missing = ~np.isfinite(values)
        idx = _bin_index(np.clip(np.nan_to_num(values, nan=c.bounds[0]), *c.bounds), c)
        return np.where(missing, c.width - 1, idx) if c.categories[-1] == NULL else idx
    if c.kind != "discrete":
        raise ValueError(f"column {c.name!r} is {c.kind}: only binned and discrete columns have cells")
    if c.numbers:
        return _number_index(col, c)
    codes = pd.Categorical(col.astype("string").astype(object), categories=list(c.categories)).codes
    other = c.categories.index(OTHER)
    null = c.categories.index(NULL) if NULL in c.categories else other
    return np.where(codes >= 0, codes, np.where(col.isna().to_numpy(), null, other))


def _number_index(col: pd.Series, c: ColumnCodec) -> np.ndarray:
    """Cells of a discrete numeric column: the declared number each value equals (to float
    precision), ``__other__`` for any other number or text, ``__null__`` for missing ones."""
    values = pd.to_numeric(col, errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    numbers = np.asarray(c.numbers)
    nearest = np.clip(np.searchsorted(numbers, np.nan_to_num(values, nan=numbers[0])), 0, len(numbers) - 1)
    below = np.clip(nearest - 1, 0, len(numbers) - 1)
    nearest = np.where(np.abs(numbers[below] - values) < np.abs(numbers[nearest] - values), below, nearest)
    exact = np.isclose(numbers[nearest], values, rtol=1e-9, atol=1e-12)
    other = c.categories.index(OTHER)
    null = c.categories.index(NULL) if NULL in c.categories else other
    return np.where(exact, nearest, np.where(col.isna().to_numpy(), null, other))


def _cell_values(idx: np.ndarray, c: ColumnCodec, rng: np.random.Generator) -> pd.Series:
    if c.kind == "binned":
        series = pd.Series(_value_in_bin(idx, c, rng), dtype="float64")
        if c.categories[-1] == NULL:
            series[idx == c.width - 1] = np.nan
        return series.astype("Int64") if c.integer else series
    if c.numbers:  # __other__ is never emitted; __null__ (after the numbers) is missing
        numbers = np.append(np.asarray(c.numbers), np.nan)
        series = pd.Series(numbers[np.minimum(idx, len(c.numbers))], dtype="float64")
        return series.round().astype("Int64") if c.integer else series
    series = pd.Series(np.array(c.categories, dtype=object)[idx], dtype="string")
    series[series == NULL] = pd.NA
    return series


def _bin_index(values: np.ndarray, c: ColumnCodec) -> np.ndarray:
    """0: exactly the lower bound; last bin: exactly the upper bound; otherwise the interior bin."""
    lo, hi = c.bounds
    interior = np.clip(np.searchsorted(np.asarray(c.edges), values, side="right"), 1, len(c.edges) - 1)
    return np.where(values <= lo, 0, np.where(values >= hi, c.n_bins - 1, interior))


def _value_in_bin(idx: np.ndarray, c: ColumnCodec, rng: np.random.Generator) -> np.ndarray:
    """A value drawn uniformly inside each bin (point bins give their bound); with DP leaf
    pieces, first a piece inside the bin by its weight, then a value inside that piece."""
    if c.piece_weights:
        idx, c = _piece_in_bin(idx, c, rng)
    lo, hi = c.bounds
    if c.integer:
        lo, hi = float(np.ceil(lo)), float(np.floor(hi))  # point bins must hold integers
    edges = np.asarray(c.edges)
    inner = np.clip(idx, 1, len(edges) - 1)
    left, right = edges[inner - 1], edges[inner]
    if c.integer:
        # Integers v with left <= v < right, excluding the bounds (they have point bins).
        left_int = np.maximum(np.ceil(left), lo + 1)
        right_int = np.maximum(np.minimum(np.ceil(right) - 1, hi - 1), left_int)
        values = rng.integers(left_int.astype(np.int64), right_int.astype(np.int64) + 1).astype(float)
    else:
        values = rng.uniform(left, right)
    values = np.where(idx == 0, lo, values)
    return np.where(idx >= c.n_bins - 1, hi, values)


def _piece_in_bin(idx: np.ndarray, c: ColumnCodec, rng: np.random.Generator) -> tuple[np.ndarray, ColumnCodec]:
    """Post-processing: each interior bin's row gets one of the bin's decode pieces, drawn by
    the pieces' weights (evenly where they are all 0); returns the indices in a codec whose
    bins are the pieces (0 and the last: the point bins), and that codec."""
    pieces = np.asarray(c.piece_edges)
    # Bin edges are piece edges (the same floats): their positions among them.
    first = np.searchsorted(pieces, np.asarray(c.edges) - 1e-12 * (pieces[-1] - pieces[0]))
    weights = np.asarray(c.piece_weights)
    out = np.where(idx <= 0, 0, len(weights) + 1)
    for b in np.unique(idx[(idx > 0) & (idx < c.n_bins - 1)]):
        rows = np.flatnonzero(idx == b)
        members = np.arange(first[b - 1], first[b])
        w = weights[members]
        out[rows] = 1 + rng.choice(members, size=len(rows), p=w / w.sum() if w.sum() > 0 else None)
    return out, replace(c, edges=c.piece_edges, piece_edges=(), piece_weights=())


def _draw(logits: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One categorical draw per row from unnormalised logits (Gumbel-max)."""
    gumbel = -np.log(-np.log(rng.uniform(1e-12, 1.0, size=logits.shape)))
    return np.argmax(logits + gumbel, axis=1)
