"""The public schema of a table: what the user declares public, so it costs no budget.

Uses public schema only: nothing in this module reads private values. Types, bounds and
category lists declared here are the only column facts the generators may use without a
DP mechanism (docs/privacy.md, invariant 1).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import yaml

NUMERIC_TYPES = ("integer", "float")
COLUMN_TYPES = NUMERIC_TYPES + ("categorical", "string", "boolean")
ROLES = ("direct_identifier", "quasi_identifier", "sensitive", "label")
# Integer columns whose declared range holds at most this many values are modelled as
# discrete (one cell per value, decoded to exactly those values), like declared `values`.
DISCRETE_INTEGER_RANGE = 34
MAX_DECLARED_VALUES = 999


def number_label(value: float, *, integer: bool) -> str:
    """The one text form of a declared number (a category label of a discrete numeric column)."""
    return str(int(value)) if integer else repr(float(value))


class SchemaError(ValueError):
    """The schema file itself is wrong; the message names the field to fix."""


@dataclass(frozen=True)
class ColumnSpec:
    name: str
    type: str
    roles: tuple[str, ...] = ()
    bounds: tuple[float, float] | None = None
    categories: tuple[str, ...] | None = None
    nullable: bool = False
    values: tuple[float, ...] | None = None  # numeric columns: the declared allowed values (a code list)

    @property
    def is_numeric(self) -> bool:
        return self.type in NUMERIC_TYPES

    @property
    def is_direct_identifier(self) -> bool:
        return "direct_identifier" in self.roles

    @property
    def discrete_numbers(self) -> tuple[float, ...] | None:
        """The values of a numeric column modelled as discrete: its declared ``values``, or
        every integer of a declared range of at most DISCRETE_INTEGER_RANGE values."""
        if not self.is_numeric:
            return None
        if self.values is not None:
            return self.values
        if self.type == "integer" and self.bounds is not None:
            lowest, highest = math.ceil(self.bounds[0]), math.floor(self.bounds[1])  # the integers inside
            if 2 <= highest - lowest + 1 <= DISCRETE_INTEGER_RANGE:
                return tuple(float(v) for v in range(lowest, highest + 1))
        return None

    @property
    def value_set(self) -> tuple[str, ...] | None:
        """Allowed values of a categorical or boolean column (booleans as 'true'/'false')."""
        if self.type == "boolean":
            return ("false", "true")
        return self.categories

    @property
    def cell_labels(self) -> tuple[str, ...] | None:
        """The generators' discrete cells: ``value_set``, or for a discrete numeric column its
        numbers by ``number_label`` (the keys of their DP frequencies)."""
        numbers = self.discrete_numbers
        if numbers is not None:
            return tuple(number_label(v, integer=self.type == "integer") for v in numbers)
        return self.value_set


@dataclass(frozen=True)
class TableSchema:
    dataset: str
    columns: tuple[ColumnSpec, ...]
    label: str | None = None
    positive_label: str | None = None
    max_rows: int | None = None
    # Declared public row counts switch the neighbour relation to replace-one (bounded DP).
    row_count_public: bool = False
    # The privacy unit: a column naming the person a row belongs to (a direct identifier,
    # never modelled); None: one row. Its public bounds: rows per person, persons per drop.
    privacy_unit: str | None = None
    max_rows_per_unit: int | None = None
    max_units: int | None = None
    extra: dict = field(default_factory=dict, compare=False)

    @property
    def relation(self) -> str:
        """The neighbour relation: add/remove one row with n private (default), or replace
        one row when the schema declares the row count public."""
        return "replace-one" if self.row_count_public else "add-remove"

    def public_row_bound(self, n_rows: int) -> int | None:
        """The count of privacy units a plan may use: the drop's own ``n_rows`` only where the
        schema declares it public (replace-one), else the declared ``max_rows`` (None if
        undeclared); with a privacy unit, the declared ``max_units`` (persons are never more
        than rows, so ``max_rows`` bounds them when ``max_units`` is not declared)."""
        if self.privacy_unit is not None:
            return self.max_units or self.max_rows
        return n_rows if self.row_count_public else self.max_rows

    @property
    def names(self) -> list[str]:
        return [c.name for c in self.columns]

    def column(self, name: str) -> ColumnSpec:
        for col in self.columns:
            if col.name == name:
                return col
        raise KeyError(f"column {name!r} is not in the schema of {self.dataset!r}")

    def with_role(self, role: str) -> list[str]:
        return [c.name for c in self.columns if role in c.roles]

    @property
    def direct_identifiers(self) -> list[str]:
        return self.with_role("direct_identifier")

    @property
    def modelled_columns(self) -> list[ColumnSpec]:
        """Columns a generator may learn: every declared column but the direct identifiers."""
        return [c for c in self.columns if not c.is_direct_identifier]


def _parse_column(raw: dict, index: int) -> ColumnSpec:
    where = f"columns[{index}]"
    if not isinstance(raw, dict) or "name" not in raw:
        raise SchemaError(f"{where}: each column needs at least 'name' and 'type'")
    if raw["name"] is None or not str(raw["name"]).strip():
        raise SchemaError(f"{where}: 'name' is empty; write the column's name exactly as in the drop's header")
    name = str(raw["name"])
    where = f"column {name!r}"
    ctype = raw.get("type")
    if ctype is None:
        raise SchemaError(f"{where}: 'type' is empty; declare one of {', '.join(COLUMN_TYPES)}")
    if ctype not in COLUMN_TYPES:
        raise SchemaError(f"{where}: type {ctype!r} is not one of {', '.join(COLUMN_TYPES)}")
    roles = raw.get("role", raw.get("roles", ())) or ()
    roles = (roles,) if isinstance(roles, str) else tuple(roles)
    for role in roles:
        if role not in ROLES:
            raise SchemaError(f"{where}: role {role!r} is not one of {', '.join(ROLES)}")
    bounds = raw.get("bounds")
    if bounds is not None:
        if ctype not in NUMERIC_TYPES:
            raise SchemaError(f"{where}: bounds are only for integer or float columns")
        if not isinstance(bounds, (list, tuple)) or len(bounds) != 2:
            raise SchemaError(f"{where}: bounds must be a list [lower, upper], got {bounds!r}")
        if not all(isinstance(b, (int, float)) and not isinstance(b, bool) for b in bounds):
            raise SchemaError(f"{where}: bounds must be numbers, got {bounds!r}")
        lower, upper = float(bounds[0]), float(bounds[1])
        # A declared bound of 0 is a bound: compare against None, never truthiness.
        if not (math.isfinite(lower) and math.isfinite(upper)) or lower >= upper:
            raise SchemaError(f"{where}: bounds must be finite with lower < upper, got {bounds}")
        if ctype == "integer" and not (lower.is_integer() and upper.is_integer()):
            raise SchemaError(f"{where}: an integer column needs whole-number bounds, got {bounds}")
        bounds = (lower, upper)
    categories = raw.get("categories")
    if categories is not None:
        if ctype != "categorical":
            raise SchemaError(f"{where}: categories are only for categorical columns")
        if not isinstance(categories, (list, tuple)):
            raise SchemaError(f"{where}: categories must be a list, got {type(categories).__name__}")
        categories = tuple(str(c) for c in categories)
        if len(categories) < 1 or len(set(categories)) != len(categories):
            raise SchemaError(f"{where}: categories must be a non-empty list without repeats")
    values = raw.get("values")
    if values is not None:
        values, bounds = _parse_values(values, ctype, bounds, where)
    nullable = raw.get("nullable", False)
    if not isinstance(nullable, bool):
        raise SchemaError(f"{where}: nullable must be true or false, got {nullable!r}")
    return ColumnSpec(
        name=name,
        type=ctype,
        roles=roles,
        bounds=bounds,
        categories=categories,
        nullable=nullable,
        values=values,
    )


def _parse_values(values, ctype: str, bounds, where: str) -> tuple[tuple[float, ...], tuple[float, float]]:
    """A numeric column's declared allowed values, sorted, and the bounds they imply (or the
    declared bounds, which must hold them)."""
    if ctype not in NUMERIC_TYPES:
        raise SchemaError(f"{where}: values are only for integer or float columns (use categories for categorical)")
    if not isinstance(values, (list, tuple)) or not all(
            isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) for v in values):
        raise SchemaError(f"{where}: values must be a list of finite numbers, e.g. values: [1, 2, 3, 5]")
    numbers = tuple(sorted(float(v) for v in values))
    if len(numbers) < 2 or len(set(numbers)) != len(numbers):
        raise SchemaError(f"{where}: values must list at least two different numbers, without repeats")
    if len(numbers) > MAX_DECLARED_VALUES:
        raise SchemaError(f"{where}: {len(numbers)} values is more than {MAX_DECLARED_VALUES}; declare bounds instead")
    if ctype == "integer" and not all(v.is_integer() for v in numbers):
        raise SchemaError(f"{where}: an integer column's values must be whole numbers")
    if bounds is None:
        return numbers, (numbers[0], numbers[-1])
    if numbers[0] < bounds[0] or numbers[-1] > bounds[1]:
        raise SchemaError(f"{where}: values lie outside the declared bounds {list(bounds)}")
    return numbers, bounds


def parse_schema(raw: dict) -> TableSchema:
    if not isinstance(raw, dict):
        raise SchemaError("the schema must be a mapping with 'dataset' and 'columns'")
    dataset = raw.get("dataset")
    if not dataset or not isinstance(dataset, str):
        raise SchemaError("the schema needs a 'dataset' name (the ledger charges budget per dataset)")
    raw_columns = raw.get("columns")
    if not raw_columns:
        raise SchemaError("the schema needs a non-empty 'columns' list")
    columns = tuple(_parse_column(c, i) for i, c in enumerate(raw_columns))
    names = [c.name for c in columns]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise SchemaError(f"column names appear twice in the schema: {duplicates}")
    label = raw.get("label")
    if label is not None and label not in names:
        raise SchemaError(f"label {label!r} is not a declared column")
    positive = raw.get("positive_label")
    if label is not None:
        label_spec = columns[names.index(label)]
        # A categorical label's classes may stay open: DP statistics buy them, as for any
        # categorical column. A boolean label's classes are its type's: false and true.
        if label_spec.type not in ("categorical", "boolean"):
            raise SchemaError(f"label {label!r} must be a categorical column (its classes as categories) or a "
                              "boolean one")
        if positive is not None and label_spec.value_set is None:
            raise SchemaError(f"positive_label {positive!r} needs the categories of {label!r} declared")
        if positive is not None and str(positive) not in label_spec.value_set:
            raise SchemaError(f"positive_label {positive!r} is not a category of {label!r}")
    max_rows = raw.get("max_rows")
    if max_rows is not None and (not isinstance(max_rows, int) or max_rows < 1):
        raise SchemaError("max_rows must be a positive integer")
    row_count_public = raw.get("row_count_public", False)
    if not isinstance(row_count_public, bool):
        raise SchemaError("row_count_public must be true or false (true: the row count of every drop is public, "
                          "and the accounting is replace-one)")
    unit = _parse_privacy_unit(raw, columns, label=label, max_rows=max_rows, row_count_public=row_count_public)
    known = {"dataset", "columns", "label", "positive_label", "max_rows", "row_count_public", "privacy_unit",
             "max_rows_per_unit", "max_units"}
    return TableSchema(
        dataset=dataset,
        columns=columns,
        label=label,
        positive_label=None if positive is None else str(positive),
        max_rows=max_rows,
        row_count_public=row_count_public,
        **unit,
        extra={k: v for k, v in raw.items() if k not in known},
    )


def _positive_int(raw: dict, key: str, why: str) -> int | None:
    value = raw.get(key)
    if value is not None and (not isinstance(value, int) or isinstance(value, bool) or value < 1):
        raise SchemaError(f"{key} must be a positive whole number ({why}), got {value!r}")
    return value


def _parse_privacy_unit(raw: dict, columns: tuple[ColumnSpec, ...], *, label: str | None, max_rows: int | None,
                        row_count_public: bool) -> dict:
    """``privacy_unit`` (a column naming the person a row belongs to) and its public bounds."""
    unit = raw.get("privacy_unit")
    per_unit = _positive_int(raw, "max_rows_per_unit", "the most rows one person may have in a drop")
    max_units = _positive_int(raw, "max_units", "a public upper bound on the persons of one drop")
    if unit is None:
        if per_unit is not None or max_units is not None:
            raise SchemaError("max_rows_per_unit and max_units describe a privacy unit: declare `privacy_unit: "
                              "COLUMN` (the column naming the person), or remove them")
        return {}
    if not isinstance(unit, str) or not unit.strip():
        raise SchemaError("privacy_unit must name one column (the one that identifies a person), e.g. "
                          "privacy_unit: patient_id")
    spec = next((c for c in columns if c.name == unit), None)
    if spec is None:
        raise SchemaError(f"privacy_unit {unit!r} is not a declared column; declare it with "
                          "role: direct_identifier")
    if not spec.is_direct_identifier:
        raise SchemaError(f"privacy_unit {unit!r} is modelled: a column naming a person is a direct identifier; "
                          "declare it with role: direct_identifier (it is never modelled nor released)")
    if unit == label:
        raise SchemaError(f"privacy_unit {unit!r} cannot be the label")
    if row_count_public:
        raise SchemaError("row_count_public (replace-one neighbours) and privacy_unit do not combine: with a "
                          "privacy unit the neighbours differ by one person's rows and the counts stay private; "
                          "remove row_count_public")
    if max_units is not None and max_rows is not None and max_units > max_rows:
        raise SchemaError(f"max_units ({max_units}) cannot exceed max_rows ({max_rows}): every person has a row")
    return {"privacy_unit": unit, "max_rows_per_unit": per_unit, "max_units": max_units}


def load_schema(path: str | Path) -> TableSchema:
    """The schema of a YAML file, parsed once per version of the file (path, size, mtime)."""
    path = Path(path)
    if not path.is_file():
        raise SchemaError(f"schema file {path} does not exist")
    stat = path.stat()
    return _parse_file(str(path.resolve()), stat.st_size, stat.st_mtime_ns)


@lru_cache(maxsize=32)
def _parse_file(path: str, size: int, mtime_ns: int) -> TableSchema:
    try:
        raw = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise SchemaError(f"schema file {path} is not valid YAML: {exc}") from None
    return parse_schema(raw)
