"""Privacy of a person: the privacy unit of a release and contribution bounding.

Where the schema names a ``privacy_unit`` column, neighbouring drops differ by ALL the rows
of one person (add/remove of one unit), not by one row. Before any DP computation each
person keeps at most k rows (``rows_per_unit``, public), chosen on secret coins; then every
mechanism is accounted for a unit of at most k rows:

- counts (marginals, DP statistics, the DP row count): a person moves one count vector by at
  most k in L2 (all k rows in one cell), so sensitivities are multiplied by k;
- scores of the exponential mechanism: sensitivity multiplied by k;
- DP-SGD: Poisson sampling over persons and ONE clipped gradient per person (the sum of its
  rows' gradients, clipped to C), so the accountant sees the persons' sampling rate and the
  usual noise multiplier.

``bound_contributions`` and ``draw_unit_holdout`` read the unit column of the private rows
(not the values of any modelled column): the former is the first step of every DP fit, the
latter decides which persons are held out for the internal evaluation. Neither releases
anything; the counts of what bounding dropped are non-DP and stay internal.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from synth_pipeline.privacy.secret_random import secret_rng

ROW = "one row"


class ContributionError(ValueError):
    """The privacy unit or its bound k cannot be used; the message says what to change."""


@dataclass(frozen=True)
class PrivacyUnit:
    """What one neighbour differs by: ``column`` None is one row (k = 1)."""

    column: str | None = None
    rows_per_unit: int = 1  # k: the most rows of one person a fit keeps

    @property
    def is_row(self) -> bool:
        return self.column is None

    @property
    def description(self) -> str:
        if self.column is None:
            return ROW
        return f"one person (the rows sharing a value of {self.column!r}), at most {self.rows_per_unit} rows each"


def unit_problems(*, privacy_unit: str | None, max_rows_per_unit: int | None,
                  rows_per_unit: int | None) -> list[str]:
    """Public facts only: the bound k against the schema's declaration (each problem says what to do)."""
    if privacy_unit is None:
        if rows_per_unit is not None:
            return [f"rows_per_unit: {rows_per_unit} bounds a person's rows, but the schema declares no privacy_unit; "
                    "declare `privacy_unit: COLUMN` or leave rows_per_unit empty"]
        return []
    if rows_per_unit is None:
        if max_rows_per_unit is None:
            return [f"the privacy unit is {privacy_unit!r}: declare max_rows_per_unit in the schema (the most rows one "
                    "person has, from the source's documentation) or set rows_per_unit (k, the rows kept per person)"]
        return []
    if isinstance(rows_per_unit, bool) or not isinstance(rows_per_unit, int) or rows_per_unit < 1:
        return [f"rows_per_unit: must be a positive whole number, got {rows_per_unit!r}"]
    if max_rows_per_unit is not None and rows_per_unit > max_rows_per_unit:
        return [f"rows_per_unit: {rows_per_unit} is larger than the schema's max_rows_per_unit ({max_rows_per_unit}); "
                f"use at most {max_rows_per_unit} (more rows per person cost noise and add none)"]
    return []


def privacy_unit_of(schema, rows_per_unit: int | None = None) -> PrivacyUnit:
    """The release's unit from the public schema and the config's ``rows_per_unit`` (empty:
    the schema's ``max_rows_per_unit``). Raises ContributionError on what ``unit_problems`` refuses."""
    problems = unit_problems(privacy_unit=schema.privacy_unit, max_rows_per_unit=schema.max_rows_per_unit,
                             rows_per_unit=rows_per_unit)
    if problems:
        raise ContributionError(problems[0])
    if schema.privacy_unit is None:
        return PrivacyUnit()
    return PrivacyUnit(schema.privacy_unit, rows_per_unit or schema.max_rows_per_unit)


def unit_codes(values: pd.Series, *, column: str) -> np.ndarray:
    """One integer per row naming its person (codes, not the identifiers). Reads the unit
    column only; a missing identifier is an input error (counted, never shown)."""
    missing = int(values.isna().sum())
    if missing:
        raise ContributionError(f"column {column!r} (the privacy unit) is empty in {missing} row(s): every row must "
                                "name its person; fill them in or drop those rows before the drop lands "
                                "(nothing was charged)")
    return pd.factorize(values.astype("string"), sort=False)[0].astype(np.int64)


@dataclass(frozen=True)
class Bounded:
    """The rows a fit may see (at most k per person), each row's person (0 … units−1), and
    what bounding dropped: non-DP counts, internal review only (never released or logged)."""

    rows: pd.DataFrame
    units: np.ndarray
    internal: dict


def bound_contributions(frame: pd.DataFrame, unit: PrivacyUnit, *, rng=None) -> Bounded:
    """Keep at most ``unit.rows_per_unit`` rows of each person, chosen uniformly on secret
    coins (fresh per run, never seeded), in the drop's order. With the row unit every row is
    its own person and nothing is dropped. Reads the unit column, not DP: the kept rows go to
    DP mechanisms only, and the dropped-row counts are internal."""
    if unit.is_row:
        return Bounded(frame, np.arange(len(frame), dtype=np.int64), {"privacy_unit": ROW})
    if unit.column not in frame:
        raise ContributionError(f"the privacy unit column {unit.column!r} is not in the drop")
    codes = unit_codes(frame[unit.column], column=unit.column)
    rng = secret_rng() if rng is None else rng
    # A secret random rank inside each person; rows ranked below k are kept.
    order = np.lexsort((rng.random(len(codes)), codes))
    first = np.r_[0, np.flatnonzero(np.diff(codes[order])) + 1]
    rank = np.arange(len(codes)) - np.repeat(first, np.diff(np.r_[first, len(codes)]))
    keep = np.zeros(len(codes), dtype=bool)
    keep[order[rank < unit.rows_per_unit]] = True
    per_unit = np.bincount(codes)
    kept_codes = pd.factorize(codes[keep], sort=False)[0].astype(np.int64)
    internal = {
        "privacy_unit": unit.column, "rows_per_unit": unit.rows_per_unit,
        "units": int(len(per_unit)), "rows": int(len(codes)), "rows_kept": int(keep.sum()),
        "rows_dropped": int((~keep).sum()), "units_truncated": int((per_unit > unit.rows_per_unit).sum()),
        "units_with_one_row": int((per_unit == 1).sum()),
        "note": "non-DP counts of the private drop: internal review only",
    }
    if internal["units_with_one_row"] == internal["units"]:
        internal["finding"] = ("every person has one row in this drop: the guarantee per person is the one per row "
                               f"here, and calibrating to k = {unit.rows_per_unit} rows only added noise; "
                               "max_rows_per_unit 1 would say so")
    elif internal["rows_dropped"] == 0:
        internal["finding"] = f"no person has more than k = {unit.rows_per_unit} rows: bounding dropped nothing"
    return Bounded(frame[keep].reset_index(drop=True), kept_codes, internal)


def draw_unit_holdout(frame: pd.DataFrame, unit: PrivacyUnit, *, holdout_fraction: float) -> np.ndarray:
    """Which rows go to the audit holdout: every row of a person together, each person on
    its own secret coin (fresh per run), so adding or removing a person changes no other
    person's side. The row unit is ``data_io.draw_holdout``. Reads the unit column only."""
    from synth_pipeline.data_io import draw_holdout

    if unit.is_row:
        return draw_holdout(len(frame), holdout_fraction=holdout_fraction)
    codes = unit_codes(frame[unit.column], column=unit.column)
    persons = draw_holdout(int(codes.max()) + 1 if len(codes) else 0, holdout_fraction=holdout_fraction,
                           what="persons")
    return persons[codes]


def grouped(data, units: np.ndarray, rows_per_unit: int):
    """Rows stacked per person for DP-SGD: a (persons, k, width) tensor, zero-padded, and a
    (persons, k) mask of real rows. ``units`` numbers the persons 0 … persons−1."""
    import torch

    units = np.asarray(units, dtype=np.int64)
    persons = int(units.max()) + 1 if len(units) else 0
    order = np.argsort(units, kind="stable")
    counts = np.bincount(units, minlength=persons)
    if len(counts) and counts.max() > rows_per_unit:
        raise ContributionError(f"a person has more than {rows_per_unit} rows: bound the contributions first")
    slot = np.arange(len(units)) - np.repeat(np.cumsum(counts) - counts, counts)
    stacked = torch.zeros(persons, rows_per_unit, data.shape[1], dtype=data.dtype)
    mask = torch.zeros(persons, rows_per_unit, dtype=data.dtype)
    sorted_units = torch.from_numpy(units[order])
    stacked[sorted_units, torch.from_numpy(slot)] = data[torch.from_numpy(order)]
    mask[sorted_units, torch.from_numpy(slot)] = 1.0
    return stacked, mask
