"""Canary records for the one-run audit: made from the public schema and a seeded
generator, never drawn from (or compared with) the private table.

Reads no private values. Each canary picks every value uniformly from what the schema
declares: a category from the declared list, a number uniform over the declared bounds
(integers uniform over the whole range). Real tables concentrate on a few categories and
a narrow band of each range (Adult: one country holds 90% of rows, capital gain is 0 for
92%), so a row whose values are independent and uniform is a rare combination, far from
the data, while the schema accepts every value in it. Direct identifiers get an obviously
fabricated token (``canary-0007``): they are dropped before training anyway.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from synth_pipeline.schema import ColumnSpec, TableSchema

DEFAULT_CANARIES = 1000
MAX_CANARY_SHARE = 0.2  # m ≤ n/5: inserted canaries (≈ m/2) stay at most ~10% of the audit table
MIN_CANARIES = 20


class CanaryError(ValueError):
    """Canaries cannot be made for this table or schema; the message says what to change."""


def canary_count(n_rows: int, requested: int | None = None) -> int:
    """The rule for m: the request (default 1,000) capped at n/5, so the inserted canaries
    (about m/2) never exceed about a tenth of the audit table; at least 20, else an error.
    n is the training row count: the audit is internal and not DP (it never sets a release)."""
    wanted = DEFAULT_CANARIES if requested is None else int(requested)
    if wanted < MIN_CANARIES:
        raise CanaryError(f"the audit needs at least {MIN_CANARIES} canaries, got {wanted}")
    m = min(wanted, int(n_rows * MAX_CANARY_SHARE))
    if m < MIN_CANARIES:
        raise CanaryError(f"a table of {n_rows} rows is too small for the audit: it takes at least "
                          f"{int(np.ceil(MIN_CANARIES / MAX_CANARY_SHARE))} rows ({MIN_CANARIES} canaries at "
                          f"most {MAX_CANARY_SHARE:.0%} of the rows)")
    return m


def _values(spec: ColumnSpec, m: int, rng: np.random.Generator) -> pd.Series:
    if spec.is_direct_identifier:
        return pd.Series([f"canary-{i:04d}" for i in range(m)], dtype="string")
    if spec.is_numeric:
        if spec.bounds is None:
            if spec.nullable:  # the schema accepts a missing value; it declares no range to draw from
                return pd.Series(np.full(m, np.nan), dtype="float64")  # as the reader types a blank column
            raise CanaryError(f"column {spec.name!r} declares no bounds: canaries must lie inside declared "
                              "bounds; declare `bounds: [lower, upper]` for the audit")
        lo, hi = spec.bounds
        if spec.type == "integer":
            return pd.Series(rng.integers(int(lo), int(hi) + 1, size=m), dtype="int64")
        return pd.Series(rng.uniform(lo, hi, size=m), dtype="float64")
    values = spec.value_set
    if values is None:
        # An open categorical or free-text column: the schema accepts any value. A fresh
        # token per canary is as rare as a value can be (DP category discovery drops it).
        return pd.Series([f"canary-{spec.name}-{i:04d}" for i in range(m)], dtype="string")
    return pd.Series(np.asarray(values, dtype=object)[rng.integers(len(values), size=m)], dtype="string")


def make_canaries(schema: TableSchema, m: int, *, seed: int) -> pd.DataFrame:
    """``m`` canary rows with every column of the schema, typed as the drop reader types
    them; the same seed gives the same canaries. Reads no private values."""
    if m < 1:
        raise CanaryError(f"the number of canaries must be positive, got {m}")
    rng = np.random.default_rng([seed, 0xCA7A])  # a stream of its own, apart from the audit's coin flips
    return pd.DataFrame({spec.name: _values(spec, m, rng) for spec in schema.columns})
