"""A schema drafted from a drop (``synth-pipeline schema draft``): a starting point a person edits.

Reads private values, NOT DP. Guessing a column's type reads its values, and the PII scan
reads a sample of the text columns. The draft keeps only coarse facts: the header's column
names, one type per column, whether it has empty cells (``nullable``), and roles taken from
the names and the PII scan's rules. A type and ``nullable`` are coarse facts, but one row can
decide either (a single ``14.5`` makes a column float, a single empty cell nullable). The
draft never writes a bound, a category, a count or a value of the rows. Those come from
public knowledge, or are left open for a DP mechanism to buy (docs/privacy.md, invariants 1
and 5). What it writes is a public document once the user adopts it, so the user reviews
every line.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

import numpy as np
import pandas as pd
import yaml
from pandas._libs.parsers import STR_NA_VALUES

from synth_pipeline import pii
from synth_pipeline.data_io import FALSE_SPELLINGS, TRUE_SPELLINGS
from synth_pipeline.schema import parse_schema

# Words only: a column of 0/1 is drafted as an integer; declare it boolean if it is a flag.
BOOLEAN_WORDS = {s for s in TRUE_SPELLINGS + FALSE_SPELLINGS if s.isalpha()}
_NUMBER_TOKENS_MISSING = set(STR_NA_VALUES) | {""}  # the tokens read_drop treats as missing in numbers

DOMAINS_NOTE = (
    "# Domains: a numeric column's `bounds: [lower, upper]` (or `values: [..]` for a column of fixed codes)\n"
    "# and a categorical column's `categories: [..]` come from public knowledge: a code book, a regulation,\n"
    "# physical limits, the form's options; never from the data. Left open, a DP mechanism buys them from\n"
    "# the run's budget (a generator that cannot buy them says so at the config gate).\n")
NUMERIC_HINT = ("    # bounds: [lower, upper]  # from public knowledge, or leave open for DP; "
                "values: [..] for fixed codes (a public code list)")
CATEGORICAL_HINT = "    # categories: [..]  # from public knowledge (a code book), or leave open for DP"
LABEL_HINT = ("    # categories: [..]  # the label's classes, from the code book (or left open: DP counts buy "
              "them; positive_label then waits until they are declared)")


class DraftError(ValueError):
    """The drop cannot be drafted from; the message says what to fix and quotes no value."""


@dataclass(frozen=True)
class DraftColumn:
    name: str
    type: str
    roles: tuple[str, ...] = ()
    why: str = ""  # why a role was suggested: rule and pattern names only, never a value
    nullable: bool = False  # the drop has an empty cell in this column


def guess_type(values: pd.Series) -> str:
    """integer, float, boolean or categorical, from the non-empty values. Reads private
    values, NOT DP: the result is one coarse fact per column."""
    if pd.api.types.is_bool_dtype(values):
        return "boolean"
    if pd.api.types.is_numeric_dtype(values):
        return _number_type(values.to_numpy(dtype=float, na_value=np.nan))
    text = values.dropna().astype("string").str.strip()
    if text.empty:
        return "categorical"
    if set(text.str.lower().unique()) <= BOOLEAN_WORDS:
        return "boolean"
    filled = text[~text.isin(_NUMBER_TOKENS_MISSING)]
    if filled.str.match(r"^[+-]?0\d").any():
        return "categorical"  # a leading zero makes a code (a zip, an account), not a number
    numbers = pd.to_numeric(filled, errors="coerce")
    if len(filled) and numbers.notna().all():
        return _number_type(numbers.to_numpy(dtype=float, na_value=np.nan))
    return "categorical"


def _number_type(numbers: np.ndarray) -> str:
    finite = numbers[np.isfinite(numbers)]
    whole = len(finite) == np.count_nonzero(~np.isnan(numbers)) and bool((finite == np.round(finite)).all())
    return "integer" if whole else "float"


def _words(name: str) -> str:
    """'Patient ID' -> 'patient_id', 'Âge' -> 'age': the PII scan's name rules see spaces and
    dashes as '_', and letters without their accents."""
    plain = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode("ascii")
    return re.sub(r"[^0-9a-z]+", "_", plain.lower()).strip("_")


def _looks_like_values(names: list[str]) -> bool:
    """A header whose names look like cells (an email, a phone number; mostly numbers) is
    probably the first row of a headerless file: its names would put values in the schema."""
    patterned = any(p.match(n.strip()) for n in names for p in pii.PATTERNS.values())
    numbers = sum(pd.notna(pd.to_numeric(n, errors="coerce")) for n in names)
    return patterned or numbers * 2 >= len(names)


def draft_columns(frame: pd.DataFrame, *, label: str | None = None) -> list[DraftColumn]:
    """One drafted column per column of ``frame``. Reads private values, NOT DP: types from
    the values, roles from the names and ``pii.scan`` (its patterns and its uniqueness rule:
    a text column whose sampled values are nearly all distinct is a suspected identifier)."""
    names = [str(c) for c in frame.columns]
    if _looks_like_values(names):
        raise DraftError("the first line does not look like a header (its names look like values: numbers, "
                         "emails, phone numbers); add a header line naming the columns")
    if label is not None and label not in names:
        raise DraftError(f"--label {label!r} is not a column of the drop ({len(names)} columns)")
    types = {name: guess_type(frame[name]) for name in names}
    provisional = parse_schema({"dataset": "draft", "columns": [{"name": n, "type": t} for n, t in types.items()]})
    scan = pii.scan(frame, provisional)
    kinds: dict[str, list[str]] = {}
    for finding in scan["findings"]:
        kinds.setdefault(finding["column"], []).append(finding["kind"])
    drafted = []
    for name in names:
        nullable = bool(frame[name].isna().any())
        found = kinds.get(name, [])
        if not found and pii.DIRECT_NAME_HINTS.search(_words(name)):
            found = ["identifier_name"]
        if name == label:
            why = f"the PII scan flagged it ({', '.join(found)}): is it really the label?" if found else ""
            kind = "boolean" if types[name] == "boolean" else "categorical"  # a boolean's classes are its type's
            drafted.append(DraftColumn(name, kind, ("label",), why, nullable))
        elif found:
            ctype = "string" if types[name] == "categorical" else types[name]
            drafted.append(DraftColumn(name, ctype, ("direct_identifier",),
                                       f"suggested by the PII scan ({', '.join(found)}): dropped before training",
                                       nullable))
        elif pii.QUASI_NAME_HINTS.search(_words(name)):
            drafted.append(DraftColumn(name, types[name], ("quasi_identifier",),
                                       "suggested from the name: the linkage and inference attacks use it", nullable))
        else:
            drafted.append(DraftColumn(name, types[name], nullable=nullable))
    return drafted


def _scalar(text: str) -> str:
    """A YAML double-quoted scalar: names keep spaces, unicode and quotes exactly."""
    return yaml.safe_dump(text, allow_unicode=True, default_style='"', width=10**6).strip()


def render_draft(columns: list[DraftColumn], *, dataset: str, source_name: str, label: str | None) -> str:
    """The draft as commented YAML. Reads no value: it writes what ``columns`` holds (names,
    types, roles) and fixed advice; no count but the number of columns."""
    lines = [
        f"# DRAFT schema, to review before use: drafted by `synth-pipeline schema draft` from {_scalar(source_name)}",
        f"# ({len(columns)} columns). Drafting read the drop's values (not DP) to guess each column's type and",
        "# to run the PII scan; it wrote only names, types, nullable and suggested roles: no bound, category, count or",
        "# value of the rows. Once adopted this file is public: check every line, then run",
        "#   synth-pipeline schema check --schema <this file> --input <the drop>",
        DOMAINS_NOTE.rstrip("\n"),
        f"dataset: {_scalar(dataset)}",
        "# max_rows: <a public upper bound on one drop's rows>  # required: from the source's documentation,",
        "#                                                       # never the drop's own row count",
        "# privacy_unit: <the column naming a person>  # when one person can have several rows (visits, claims,",
        "#   yearly records): declare that column with role: direct_identifier, and max_rows_per_unit: <most rows",
        "#   of one person> and max_units: <most persons in one drop>, both from the source's documentation.",
        "#   Without it ε protects one row, and a person with r rows only at about r × ε",
    ]
    if label is not None:
        lines += [f"label: {_scalar(label)}",
                  "# positive_label: <the class a model predicts>  # one of the label's declared categories"]
    lines.append("columns:")
    for col in columns:
        lines.append(f"  - name: {_scalar(col.name)}")
        lines.append(f"    type: {col.type}")
        if col.nullable:
            lines.append("    nullable: true  # the drop has empty cells here; missing values are modelled as a value")
        if col.roles:
            role = f"    role: {col.roles[0] if len(col.roles) == 1 else list(col.roles)}"
            lines.append(f"{role}  # {col.why}" if col.why else role)
        if col.roles == ("label",):
            if col.type != "boolean":
                lines.append(LABEL_HINT)
        elif "direct_identifier" in col.roles:
            continue  # never modelled: no domain to declare
        elif col.type in ("integer", "float"):
            lines.append(NUMERIC_HINT)
        elif col.type == "categorical":
            lines.append(CATEGORICAL_HINT)
    return "\n".join(lines) + "\n"


def dataset_name(file_name: str) -> str:
    """A dataset name from a drop's file name: 'Survey 2024.csv' -> 'survey_2024'."""
    return _words(file_name.rsplit(".", 1)[0]) or "dataset"


def draft_schema(frame: pd.DataFrame, *, source_name: str, dataset: str | None = None,
                 label: str | None = None) -> str:
    """The draft of a drop's schema as YAML text. Reads private values, NOT DP (see the
    module's docstring for what the text may carry)."""
    columns = draft_columns(frame, label=label)
    return render_draft(columns, dataset=dataset or dataset_name(source_name), source_name=source_name, label=label)
