"""Raw-data expectations: a Great Expectations suite built from the public schema.

Reads private values, not DP: the result only decides whether the drop passes the raw-data
gate. GX puts raw values in its results (partial_unexpected_list, observed min/max), so
nothing of a GX result leaves this module but expectation names, column names and counts
(docs/privacy.md, invariant 5).
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from synth_pipeline.schema import TableSchema

os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")

INTEGER_DTYPES = ["int8", "int16", "int32", "int64", "Int8", "Int16", "Int32", "Int64",
                  "uint8", "uint16", "uint32", "uint64", "UInt8", "UInt16", "UInt32", "UInt64"]
FLOAT_DTYPES = ["float16", "float32", "float64", "Float32", "Float64"]


@dataclass(frozen=True)
class ExpectationOutcome:
    expectation: str
    column: str | None
    success: bool
    unexpected_count: int | None = None

    def describe(self) -> str:
        where = f"column {self.column!r}" if self.column else "table"
        what = self.expectation.removeprefix("expect_").replace("_", " ")
        count = "" if self.unexpected_count is None else f" ({self.unexpected_count} rows)"
        return f"{where}: {what} failed{count}"


@dataclass(frozen=True)
class RawDataReport:
    """Outcome of the raw-data gate: counts and names only, no values."""

    n_rows: int
    missing_columns: tuple[str, ...]
    unknown_columns: tuple[str, ...]
    unknown_positions: tuple[int, ...] = ()  # used instead of names when the header looks like data
    header_matches: int = 0
    outcomes: tuple[ExpectationOutcome, ...] = field(default_factory=tuple)

    @property
    def success(self) -> bool:
        return (not self.missing_columns and not self.unknown_columns and not self.unknown_positions
                and all(o.success for o in self.outcomes))

    def problems(self) -> list[str]:
        found = []
        if self.missing_columns:
            found.append(f"declared columns missing from the drop: {list(self.missing_columns)}")
        if self.unknown_columns:
            found.append(
                f"columns not in the schema: {list(self.unknown_columns)} (declare them or drop them from the file)"
            )
        if self.unknown_positions:
            found.append(
                f"the first line does not look like a header ({self.header_matches} of the schema's columns found); "
                f"{len(self.unknown_positions)} column(s) at positions {list(self.unknown_positions)[:20]} are not in "
                "the schema. Add the header line (names are withheld: a headerless first line holds row values)"
            )
        found.extend(o.describe() for o in self.outcomes if not o.success)
        return found

    def summary(self) -> dict:
        return {
            "passed": self.success,
            "rows": self.n_rows,
            "expectations": len(self.outcomes),
            "failed_expectations": sum(not o.success for o in self.outcomes),
            "problems": self.problems(),
        }


def _expectations_for(schema: TableSchema, present: set[str], well_typed: set[str]) -> list:
    """One expectation per declared fact; bounds only where the column is numerically typed
    (on a text column the type expectation already fails, and GX would compare strings)."""
    import great_expectations.expectations as gxe

    suite = []
    for col in schema.columns:
        if col.name not in present:
            continue
        if not col.nullable:
            suite.append(gxe.ExpectColumnValuesToNotBeNull(column=col.name))
        if col.type == "integer":
            types = INTEGER_DTYPES + (FLOAT_DTYPES if col.nullable else [])
            suite.append(gxe.ExpectColumnValuesToBeInTypeList(column=col.name, type_list=types))
        elif col.type == "float":
            suite.append(gxe.ExpectColumnValuesToBeInTypeList(column=col.name, type_list=FLOAT_DTYPES + INTEGER_DTYPES))
        if col.bounds is not None and col.name in well_typed:
            suite.append(
                gxe.ExpectColumnValuesToBeBetween(column=col.name, min_value=col.bounds[0], max_value=col.bounds[1])
            )
        if col.value_set is not None:
            suite.append(gxe.ExpectColumnValuesToBeInSet(column=col.name, value_set=list(col.value_set)))
    return suite


def _numeric_columns_well_typed(schema: TableSchema, frame: pd.DataFrame) -> set[str]:
    """Numeric columns whose dtype is numeric; bounds are only checked on those."""
    return {c.name for c in schema.columns if c.is_numeric and c.name in frame and pd.api.types.is_numeric_dtype(frame[c.name])}


def _whole_number_outcomes(frame: pd.DataFrame, schema: TableSchema) -> list[ExpectationOutcome]:
    """Integer columns that arrive as floats (a missing cell makes pandas read floats) must
    still hold whole numbers; GX has no expectation for that, so it is counted here."""
    outcomes = []
    for col in schema.columns:
        if col.type != "integer" or col.name not in frame or not pd.api.types.is_float_dtype(frame[col.name]):
            continue
        values = frame[col.name].to_numpy(dtype=float, na_value=float("nan"))
        finite = values[np.isfinite(values)]
        fractional = int(np.count_nonzero(finite != np.round(finite)))
        outcomes.append(ExpectationOutcome("expect_column_values_to_be_whole_numbers", col.name,
                                           fractional == 0, fractional))
    return outcomes


def _learnability_outcomes(frame: pd.DataFrame, schema: TableSchema) -> list[ExpectationOutcome]:
    """A drop where every modelled column is constant, or whose label has one class, leaves
    nothing to learn: stop it here, before any budget is spent. Counts distinct values only."""
    outcomes = []
    modelled = [c.name for c in schema.modelled_columns if c.name in frame]
    if modelled:
        varying = sum(frame[name].nunique(dropna=False) > 1 for name in modelled)
        outcomes.append(ExpectationOutcome("expect_some_modelled_column_to_vary", None, varying > 0,
                                           None if varying else len(frame)))
    if schema.label is not None and schema.label in frame:
        classes = frame[schema.label].nunique(dropna=True)
        outcomes.append(ExpectationOutcome("expect_label_to_have_two_classes", schema.label, classes >= 2))
    return outcomes


def validate_raw(frame: pd.DataFrame, schema: TableSchema) -> RawDataReport:
    """Run the schema's expectation suite on a drop and keep only counts and names."""
    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig

    # GX logs progress at INFO, one of its loggers with its own level: quiet them all.
    for name in [n for n in logging.Logger.manager.loggerDict if n.startswith("great_expectations")]:
        logging.getLogger(name).setLevel(logging.ERROR)
    logging.getLogger("great_expectations").setLevel(logging.ERROR)
    present = set(frame.columns)
    missing = tuple(n for n in schema.names if n not in present)
    declared = set(schema.names)
    unknown = tuple(str(c) for c in frame.columns if c not in declared)
    matches = len(present & declared)
    positions: tuple[int, ...] = ()
    if unknown and matches < len(declared) / 2:
        # Most declared names are absent: the "header" is probably a data row, and its
        # cells are private values. Report positions, never those names.
        positions = tuple(i for i, c in enumerate(frame.columns) if c not in declared)
        unknown = ()
    suite_items = _expectations_for(schema, present, _numeric_columns_well_typed(schema, frame))

    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    source = context.data_sources.add_pandas("drop")
    batch_definition = source.add_dataframe_asset("frame").add_batch_definition_whole_dataframe("whole")
    suite = gx.ExpectationSuite(name=f"{schema.dataset}_raw")
    for item in suite_items:
        suite.add_expectation(item)
    result = batch_definition.get_batch(batch_parameters={"dataframe": frame}).validate(suite)

    outcomes = []
    for item in result.results:
        config = item.expectation_config
        count = (item.result or {}).get("unexpected_count")
        outcomes.append(
            ExpectationOutcome(
                expectation=config.type,
                column=config.kwargs.get("column"),
                success=bool(item.success),
                unexpected_count=None if count is None else int(count),
            )
        )
    outcomes.extend(_whole_number_outcomes(frame, schema))
    outcomes.extend(_learnability_outcomes(frame, schema))
    outcomes.sort(key=lambda o: (o.column or "", o.expectation))
    return RawDataReport(n_rows=len(frame), missing_columns=missing, unknown_columns=unknown,
                         outcomes=tuple(outcomes), unknown_positions=positions, header_matches=matches)
