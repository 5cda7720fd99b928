"""Column transforms built from the public schema only, never fitted on rows.

Uses public schema only: numeric columns are scaled to [-1, 1] with their declared bounds
(values outside are clipped), discrete columns are one-hot over their declared categories
plus an explicit ``__other__`` bucket for unknown values (and ``__null__`` where nullable).
No min/max, unique values or mixture model is read from the private table (DESIGN.md,
"Where DP-SGD generators usually break").
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

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
    kind: str  # "numeric" or "discrete"
    start: int
    width: int
    bounds: tuple[float, float] | None = None
    integer: bool = False
    categories: tuple[str, ...] = ()  # discrete: declared categories + OTHER (+ NULL)
    null_start: int | None = None  # numeric + nullable: a 2-wide [present, null] one-hot


def _codec_for(spec: ColumnSpec, start: int) -> tuple[ColumnCodec, int]:
    if spec.is_numeric:
        # Compare with None: a declared bound of 0 is a bound.
        if spec.bounds is None:
            raise UnmodellableColumnError(
                f"column {spec.name!r} has no declared bounds; declare `bounds: [lower, upper]` in the schema "
                "(DP bounds estimation is not available yet)")
        width = 1
        null_start = None
        if spec.nullable:
            null_start, width = start + 1, 3
        return ColumnCodec(spec.name, "numeric", start, width, spec.bounds, spec.type == "integer",
                           null_start=null_start), start + width
    if spec.value_set is None:
        raise UnmodellableColumnError(
            f"column {spec.name!r} is free text (type {spec.type}); declare it a direct_identifier to drop it, "
            "or make it categorical with its categories")
    cats = tuple(spec.value_set) + (OTHER,) + ((NULL,) if spec.nullable else ())
    return ColumnCodec(spec.name, "discrete", start, len(cats), categories=cats), start + len(cats)


class TableCodec:
    """Encodes a frame to a float matrix and decodes model outputs back to a frame."""

    def __init__(self, codecs: list[ColumnCodec]):
        self.codecs = codecs
        self.width = sum(c.width for c in codecs)

    @classmethod
    def from_schema(cls, columns: list[ColumnSpec]) -> "TableCodec":
        codecs, start = [], 0
        for spec in columns:
            codec, start = _codec_for(spec, start)
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
                lookup = {v: i for i, v in enumerate(c.categories)}
                other = lookup[OTHER]
                null = lookup.get(NULL, other)
                text = col.astype("string")
                idx = np.array([null if pd.isna(v) else lookup.get(v, other) for v in text], dtype=np.int64)
                out[np.arange(len(frame)), c.start + idx] = 1.0
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
                block[:, c.categories.index(OTHER)] = -np.inf
                idx = _draw(block, rng)
                labels = np.array(c.categories, dtype=object)[idx]
                series = pd.Series(labels, dtype="string")
                series[series == NULL] = pd.NA
                data[c.name] = series
        return pd.DataFrame(data)

    def to_dict(self) -> dict:
        return {"codecs": [asdict(c) for c in self.codecs]}

    @classmethod
    def from_dict(cls, raw: dict) -> "TableCodec":
        codecs = []
        for c in raw["codecs"]:
            c = dict(c)
            c["bounds"] = tuple(c["bounds"]) if c["bounds"] is not None else None
            c["categories"] = tuple(c["categories"])
            codecs.append(ColumnCodec(**c))
        return cls(codecs)


def _draw(logits: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One categorical draw per row from unnormalised logits (Gumbel-max)."""
    gumbel = -np.log(-np.log(rng.uniform(1e-12, 1.0, size=logits.shape)))
    return np.argmax(logits + gumbel, axis=1)
