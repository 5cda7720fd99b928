"""The raw-data gate's findings in the project's own words, one line each.

Public schema only: a message is built from a column's name, what its schema declares
(type, bounds, the number of categories), an expectation's name and a row count. Nothing
here sees a value of the drop, so no message can quote one (docs/privacy.md, invariant 5).
Every message says which column, what was expected, how many rows, and what to change.
"""

from __future__ import annotations

from synth_pipeline.schema import ColumnSpec

BOOLEAN_WORDS = "true/false, yes/no, y/n, t/f, 1/0"
TEXT_INSTEAD = "declare it `type: categorical` (or `string`) if it is not a number"


def rows(count: int | None, verb: str = "") -> str:
    """'1 row holds', '3 rows hold': a count with its verb (given in the plural)."""
    noun = "some rows" if count is None else (f"{count} row" if count == 1 else f"{count} rows")
    if not verb:
        return noun
    singular = {"are": "is", "fall": "falls", "hold": "holds"}.get(verb, verb)
    return f"{noun} {singular if count == 1 else verb}"


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def _kind(spec: ColumnSpec | None) -> str:
    if spec is None:
        return "numbers"
    return "whole numbers (integer)" if spec.type == "integer" else f"numbers ({spec.type})"


def _bounds(spec: ColumnSpec | None) -> str:
    if spec is None or spec.bounds is None:
        return "its declared bounds"
    return f"its declared bounds [{_number(spec.bounds[0])}, {_number(spec.bounds[1])}]"


def _in_set(spec: ColumnSpec | None, count: int | None) -> str:
    if spec is not None and spec.type == "boolean":
        return (f"expected a boolean ({BOOLEAN_WORDS}); {rows(count, 'hold')} something else. Fix those rows, "
                "or declare the column `type: categorical`")
    # A numeric column may declare its allowed codes as `values: [..]`, a categorical one `categories`.
    field, allowed = ("values", spec.values) if spec is not None and spec.is_numeric else \
        ("categories", spec.categories if spec is not None else None)
    declared = f"one of its {len(allowed)} declared {field}" if allowed else f"one of its declared {field}"
    return (f"expected {declared}; {rows(count, 'hold')} another value. Add the missing ones to `{field}` "
            "from the public code list (never from the data), or fix those rows")


# What each expectation (GX's or the project's own) found, after "column 'x': ".
MESSAGES = {
    "expect_column_values_to_not_be_null": lambda s, n: (
        f"expected no empty cells (the column is not declared nullable); {rows(n, 'are')} empty. Fill them, "
        "or declare `nullable: true`"),
    "expect_column_values_to_be_between": lambda s, n: (
        f"expected values within {_bounds(s)}; {rows(n, 'fall')} outside. Fix those rows, or widen `bounds` "
        "from public knowledge (a code book, a regulation, physical limits), never from the data"),
    "expect_column_values_to_be_in_set": _in_set,
    "expect_column_values_to_be_numbers": lambda s, n: (
        f"expected {_kind(s)}, but the column holds text ({rows(n)}). Correct the file's export, or "
        f"{TEXT_INSTEAD}"),
    "expect_column_values_to_be_of_one_type": lambda s, n: (
        f"mixed types: expected {_kind(s)}, but {rows(n, 'hold')} text among the numbers. Fix those rows or "
        f"leave them empty (and declare `nullable: true`), or {TEXT_INSTEAD}"),
    "expect_column_values_to_be_whole_numbers": lambda s, n: (
        f"expected whole numbers (integer); {rows(n, 'hold')} a fraction. Round them in the file, or declare "
        "the column `type: float`"),
    "expect_column_values_to_be_finite": lambda s, n: (
        f"expected finite numbers; {rows(n, 'hold')} an infinite value. Fix those rows or leave them empty"),
    "expect_column_values_to_not_all_be_null": lambda s, n: (
        f"every row is empty ({rows(n)}). Fill the column, or remove it from the drop and the schema"),
    "expect_column_values_to_vary": lambda s, n: (
        f"every row holds the same value ({rows(n)}): a generator learns nothing from it. Remove the column "
        "from the drop and the schema"),
    "expect_label_to_have_two_classes": lambda s, n: (
        f"the label needs at least two classes, but the {rows(n)} with a label hold one class. Use a drop "
        "with both classes, or choose another `label`"),
}


def explain(expectation: str, column: str | None, count: int | None, spec: ColumnSpec | None) -> str:
    """One line for one failed expectation: column, what was expected, how many rows, what to do."""
    where = f"column {column!r}" if column is not None else "table"
    render = MESSAGES.get(expectation)
    if render is None:  # an expectation without a message of its own: its name and count
        what = expectation.removeprefix("expect_").replace("_", " ")
        return f"{where}: {what} failed ({rows(count)})"
    return f"{where}: {render(spec, count)}"


def missing_column(name: str) -> str:
    return f"column {name!r}: declared in the schema, missing from the drop. Add it to the file, or remove it " \
           "from the schema"


def unknown_column(name: str) -> str:
    return f"column {name!r}: in the drop, not in the schema. Declare it in the schema (`synth-pipeline schema " \
           "draft` suggests a type), or remove it from the file"


def headerless(matches: int, positions: tuple[int, ...]) -> str:
    return (f"the first line does not look like a header ({matches} of the schema's columns found); "
            f"{len(positions)} column(s) at positions {list(positions)[:20]} are not in the schema. Add the "
            "header line (names are withheld: a headerless first line holds row values)")
