"""Raw-data expectations: the drop against its public schema, for the raw-data gate and
``synth-pipeline schema check`` alike.

Reads private values, not DP: the result only decides whether the drop passes the raw-data
gate. Great Expectations checks nulls, bounds and value sets; the counts GX has no
expectation for (text in a numeric column, fractions in an integer one, constant columns, a
label's classes) are taken here. GX puts raw values in its results (partial_unexpected_list,
observed min/max), so nothing of a GX result leaves this module but expectation names,
column names and counts (docs/privacy.md, invariant 5); ``raw_data_messages`` words them.
"""

from __future__ import annotations

import logging
import os
import pickle
import subprocess
import sys
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from synth_pipeline.raw_data_messages import explain, headerless, missing_column, unknown_column
from synth_pipeline.schema import ColumnSpec, TableSchema

os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
GX_INLINE_ENV = "SYNTH_PIPELINE_GX_INLINE"  # "1": run Great Expectations in this process (the tests do)


@dataclass(frozen=True)
class ExpectationOutcome:
    expectation: str
    column: str | None
    success: bool
    unexpected_count: int | None = None

    def describe(self, spec: ColumnSpec | None = None) -> str:
        """In the project's words (``raw_data_messages``): names, declared facts and the count."""
        return explain(self.expectation, self.column, self.unexpected_count, spec)


@dataclass(frozen=True)
class RawDataReport:
    """Outcome of the raw-data gate: counts and names only, no values."""

    n_rows: int
    missing_columns: tuple[str, ...]
    unknown_columns: tuple[str, ...]
    unknown_positions: tuple[int, ...] = ()  # used instead of names when the header looks like data
    header_matches: int = 0
    outcomes: tuple[ExpectationOutcome, ...] = field(default_factory=tuple)
    # The public schema the drop was checked against: the messages quote what it declares.
    schema: TableSchema | None = field(default=None, repr=False, compare=False)

    @property
    def success(self) -> bool:
        return (not self.missing_columns and not self.unknown_columns and not self.unknown_positions
                and all(o.success for o in self.outcomes))

    def problems(self) -> list[str]:
        """One plain line per mismatch; public schema only (names, declared facts, counts)."""
        found = [missing_column(name) for name in self.missing_columns]
        found += [unknown_column(name) for name in self.unknown_columns]
        if self.unknown_positions:
            found.append(headerless(self.header_matches, self.unknown_positions))
        found.extend(o.describe(self._spec(o.column)) for o in self.outcomes if not o.success)
        return found

    def _spec(self, column: str | None) -> ColumnSpec | None:
        if self.schema is None or column is None or column not in self.schema.names:
            return None
        return self.schema.column(column)

    def summary(self) -> dict:
        return {
            "passed": self.success,
            "rows": self.n_rows,
            "expectations": len(self.outcomes),
            "failed_expectations": sum(not o.success for o in self.outcomes),
            "problems": self.problems(),
        }


def _expectations_for(schema: TableSchema, checked: set[str], well_typed: set[str]) -> list[tuple[str, dict]]:
    """GX expectations as (class name in ``great_expectations.expectations``, keyword arguments),
    one per declared fact: nulls, bounds, value sets. Bounds only where the column is
    numerically typed (GX would compare text with numbers). Public schema only; plain data,
    so the suite is known, and sent to the child, without importing GX here."""
    suite = []
    for col in schema.columns:
        if col.name not in checked:
            continue
        if not col.nullable:
            suite.append(("ExpectColumnValuesToNotBeNull", {"column": col.name}))
        if col.bounds is not None and col.name in well_typed:
            suite.append(("ExpectColumnValuesToBeBetween",
                          {"column": col.name, "min_value": col.bounds[0], "max_value": col.bounds[1]}))
        if col.value_set is not None:
            suite.append(("ExpectColumnValuesToBeInSet", {"column": col.name, "value_set": list(col.value_set)}))
        elif col.values is not None and col.name in well_typed:  # a numeric code list
            suite.append(("ExpectColumnValuesToBeInSet", {"column": col.name, "value_set": list(col.values)}))
    return suite


def _is_number_dtype(values: pd.Series) -> bool:
    return pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values)


def _type_outcomes(frame: pd.DataFrame, schema: TableSchema, checked: set[str]) -> list[ExpectationOutcome]:
    """Numeric columns: text (all of it: a wrong type; some: mixed types), fractions in an
    integer column, infinite values, each with its row count (a column's dtype alone, which
    GX's type-list expectation judges, cannot say how many rows to fix)."""
    outcomes = []
    for col in schema.columns:
        if not col.is_numeric or col.name not in checked:
            continue
        values = frame[col.name]
        filled = values.notna()
        if not _is_number_dtype(values):
            # As text, a boolean (True) is a word, not the number 1.
            as_text = filled & pd.to_numeric(values.astype("string"), errors="coerce").isna()
            count = int(as_text.sum())
            kind = "numbers" if count == int(filled.sum()) else "of_one_type"
            outcomes.append(ExpectationOutcome(f"expect_column_values_to_be_{kind}", col.name, count == 0, count))
            continue
        outcomes.append(ExpectationOutcome("expect_column_values_to_be_numbers", col.name, True, 0))
        if pd.api.types.is_float_dtype(values):
            numbers = values.to_numpy(dtype=float, na_value=np.nan)
            finite = numbers[np.isfinite(numbers)]
            infinite = int(np.count_nonzero(np.isinf(numbers)))
            outcomes.append(ExpectationOutcome("expect_column_values_to_be_finite", col.name, infinite == 0, infinite))
            if col.type == "integer":
                fractional = int(np.count_nonzero(finite != np.round(finite)))
                outcomes.append(ExpectationOutcome("expect_column_values_to_be_whole_numbers", col.name,
                                                   fractional == 0, fractional))
    return outcomes


def _learnability_outcomes(frame: pd.DataFrame, schema: TableSchema, empty: set[str],
                           checked: set[str]) -> list[ExpectationOutcome]:
    """Columns with nothing to learn: every cell empty, or one value on every row (unless the
    schema declares that single value), and a label with one class. Stopped here, before any
    budget is spent. Counts distinct values only."""
    n = len(frame)
    outcomes = [ExpectationOutcome("expect_column_values_to_not_all_be_null", name, False, n) for name in sorted(empty)]
    for col in schema.modelled_columns:
        if col.name not in checked or col.name == schema.label or (col.value_set and len(col.value_set) == 1):
            continue
        constant = frame[col.name].nunique(dropna=False) == 1
        outcomes.append(ExpectationOutcome("expect_column_values_to_vary", col.name, not constant, n if constant else 0))
    if schema.label is not None and schema.label in checked:
        labelled = frame[schema.label].dropna()
        one_class = labelled.nunique() < 2
        outcomes.append(ExpectationOutcome("expect_label_to_have_two_classes", schema.label, not one_class,
                                           len(labelled) if one_class else 0))
    return outcomes


def _gx_outcomes(frame: pd.DataFrame, suite_name: str, suite: list[tuple[str, dict]]) -> list[ExpectationOutcome]:
    """The GX suite, in a child process unless ``GX_INLINE_ENV`` is set: Great Expectations
    stays ~100 MB resident once imported (BENCHMARKS.md, "The whole `synthesize` under
    0.5 GB"), which training and the audit after the gate would otherwise carry. Only names
    and counts come back. An empty suite starts nothing."""
    if not suite:
        return []
    columns = {kwargs["column"] for _, kwargs in suite}
    frame = frame[[n for n in frame.columns if n in columns]]
    if os.environ.get(GX_INLINE_ENV) == "1" or not sys.executable:  # no interpreter to start: run it here
        return _run_gx(frame, suite_name, suite)
    # A fresh interpreter reading the frame from a pipe (never a file): multiprocessing's spawn
    # would re-run an unguarded __main__ of the caller's script, and fork copies its threads.
    child = subprocess.run([sys.executable, "-m", "synth_pipeline.gx_child"],
                           input=pickle.dumps((frame, suite_name, suite)),
                           capture_output=True, env={**os.environ, GX_INLINE_ENV: "1"})
    if child.returncode != 0 or not child.stdout:  # its stderr may quote a value: not shown
        raise RuntimeError(f"the raw-data expectations' child process ended with exit code {child.returncode}; "
                           f"set {GX_INLINE_ENV}=1 to run them in this process and see why")
    status, payload = pickle.loads(child.stdout)  # our own child's answer
    if status == "error":
        raise payload
    return payload


def _run_gx(frame: pd.DataFrame, suite_name: str, suite_items: list[tuple[str, dict]]) -> list[ExpectationOutcome]:
    """Run the GX suite and keep, of each result, the expectation and column names and the
    unexpected count: GX's results hold raw values (partial_unexpected_list, observed min/max)."""
    import great_expectations as gx
    import great_expectations.expectations as gxe
    from great_expectations.data_context.types.base import ProgressBarsConfig

    # GX logs progress at INFO, one of its loggers with its own level: quiet them all.
    for name in [n for n in logging.Logger.manager.loggerDict if n.startswith("great_expectations")]:
        logging.getLogger(name).setLevel(logging.ERROR)
    logging.getLogger("great_expectations").setLevel(logging.ERROR)
    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    source = context.data_sources.add_pandas("drop")
    batch_definition = source.add_dataframe_asset("frame").add_batch_definition_whole_dataframe("whole")
    suite = gx.ExpectationSuite(name=suite_name)
    for kind, kwargs in suite_items:
        suite.add_expectation(getattr(gxe, kind)(**kwargs))
    result = batch_definition.get_batch(batch_parameters={"dataframe": frame}).validate(suite)
    outcomes = []
    for item in result.results:
        config = item.expectation_config
        count = (item.result or {}).get("unexpected_count")
        outcomes.append(ExpectationOutcome(expectation=config.type, column=config.kwargs.get("column"),
                                           success=bool(item.success),
                                           unexpected_count=None if count is None else int(count)))
    return outcomes


def validate_raw(frame: pd.DataFrame, schema: TableSchema) -> RawDataReport:
    """The raw-data gate (and ``synth-pipeline schema check``): the drop against its public
    schema. Reads private values, NOT DP: pass/fail only. The report keeps counts and names,
    and its messages quote only what the schema declares (never a value)."""
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
    # An all-empty column gets one message ("every row is empty") instead of one per check.
    empty = {n for n in schema.names if n in present and frame[n].isna().all()}
    checked = {n for n in schema.names if n in present} - empty
    well_typed = {n for n in checked if schema.column(n).is_numeric and _is_number_dtype(frame[n])}
    outcomes = _gx_outcomes(frame, f"{schema.dataset}_raw", _expectations_for(schema, checked, well_typed))
    outcomes.extend(_type_outcomes(frame, schema, checked))
    outcomes.extend(_learnability_outcomes(frame, schema, empty, checked))
    order = {name: i for i, name in enumerate(schema.names)}
    outcomes.sort(key=lambda o: (order.get(o.column, -1), o.expectation))
    return RawDataReport(n_rows=len(frame), missing_columns=missing, unknown_columns=unknown,
                         outcomes=tuple(outcomes), unknown_positions=positions, header_matches=matches,
                         schema=schema)
