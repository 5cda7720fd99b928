"""The dataset profile: shapes and types from the public schema, plus the row count.

Uses public schema only, except the row count n, which is read from the drop and is
private (add/remove neighbours): it feeds only input checks before any charge (at least
100 training rows, at most the schema's ``max_rows``), stays internal, and never sets a
sampling rate, δ, a recommendation or the synthetic table's size; those come from the
declared ``max_rows`` or from DP estimates. No bound, quantile, category set or other
statistic is read from the rows here: columns the schema leaves open are listed, and
``dp_model`` releases their statistics with DP, charged.
"""

from __future__ import annotations

import pandas as pd

from synth_pipeline.privacy.config import DatasetFacts
from synth_pipeline.privacy.preprocessing import needs_dp_bounds, needs_dp_categories
from synth_pipeline.schema import TableSchema
from synth_pipeline.synthesizers.transforms import TableCodec, UnmodellableColumnError


def profile_dataset(frame: pd.DataFrame | None, schema: TableSchema, *, n_rows: int | None = None) -> dict:
    """Public schema facts plus the drop's row count (private, internal: input checks only).
    Without a frame (``validate-config`` on a schema alone) ``n_rows`` stands in for it."""
    modelled = schema.modelled_columns
    n = int(len(frame)) if frame is not None else int(n_rows or 0)
    unmodellable, dp_statistics_needed = [], []
    for col in modelled:
        if needs_dp_bounds(col) or needs_dp_categories(col):
            dp_statistics_needed.append(col.name)
            continue
        try:
            TableCodec.from_schema([col])
        except UnmodellableColumnError as exc:
            unmodellable.append(str(exc))
    return {
        "dataset": schema.dataset,
        "n_rows": n,
        "n_rows_status": "read from the drop: private, internal; input checks only (never a rate, δ or size)",
        # With a privacy unit: the persons of the drop, private and internal like n (an input check only).
        "n_units": (int(frame[schema.privacy_unit].nunique()) if frame is not None and schema.privacy_unit in frame
                    else None),
        "max_rows": schema.max_rows,
        "relation": schema.relation,
        "public_rows": schema.public_row_bound(n),
        "n_columns": len(schema.columns),
        "columns": [
            {"name": c.name, "type": c.type, "roles": list(c.roles), "nullable": c.nullable,
             "bounds": list(c.bounds) if c.bounds is not None else None,
             "n_categories": len(c.value_set) if c.value_set is not None else None}
            for c in schema.columns
        ],
        "direct_identifiers": schema.direct_identifiers,
        "quasi_identifiers": schema.with_role("quasi_identifier"),
        "sensitive": schema.with_role("sensitive"),
        "label": schema.label,
        "modelled_columns": [c.name for c in modelled],
        "n_numeric": sum(c.is_numeric for c in modelled),
        "n_categorical": sum(not c.is_numeric for c in modelled),
        "unmodellable": unmodellable,
        "dp_statistics_needed": dp_statistics_needed,
        "source": "public schema (all facts but n_rows)",
    }


def dataset_facts(profile: dict) -> DatasetFacts:
    """Public facts for config validation: the row bound is the schema's ``max_rows`` (it
    bounds the training split too), 0 when undeclared (``validate_config`` says what to do);
    the drop's own n where the schema declares it public (replace-one)."""
    return DatasetFacts(
        n_rows=int(profile.get("public_rows") or 0),
        n_columns=len(profile["modelled_columns"]),
        n_numeric=profile["n_numeric"],
        n_categorical=profile["n_categorical"],
        n_open=len(profile.get("dp_statistics_needed", [])),
    )
