"""Reading a data drop (CSV or Parquet) and splitting off the audit holdout.

Reads private values, not DP: the frame read here feeds the DP generators (which charge
the ledger) and the internal, non-DP audit. Error messages name the file and the problem,
never a value from the rows (docs/privacy.md, invariant 5).
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pandas as pd
from pandas._libs.parsers import STR_NA_VALUES

from synth_pipeline.privacy.secret_random import secret_rng
from synth_pipeline.schema import TableSchema

SUPPORTED_SUFFIXES = (".csv", ".parquet", ".pq")
# How users write booleans (compared lower-cased, without surrounding blanks).
TRUE_SPELLINGS = ("true", "yes", "y", "t", "1", "1.0")
FALSE_SPELLINGS = ("false", "no", "n", "f", "0", "0.0")
BOOLEAN_SPELLINGS = {**{s: "true" for s in TRUE_SPELLINGS}, **{s: "false" for s in FALSE_SPELLINGS}}


class DropReadError(ValueError):
    """The drop cannot be read as a table; the message says what to fix."""


def read_drop(path: str | Path, schema: TableSchema) -> pd.DataFrame:
    """Read one drop; discrete columns declared in the schema are read as text.

    Other columns keep the types the file gives them, so the raw-data gate can report a
    wrongly typed column instead of this reader silently coercing it; only the spellings of
    ``conform_to_schema`` are converted (whole-number floats, boolean words).
    """
    text_columns = {c.name: "string" for c in schema.columns if c.type in ("categorical", "string", "boolean")}
    # Only an empty cell is missing in a text column ('NA' or 'None' may be declared
    # categories); other columns keep pandas' usual missing-value tokens.
    na_values = {name: [""] if name in text_columns else sorted(STR_NA_VALUES) for name in schema.names}
    frame = _read_table(Path(path), csv_options={"dtype": text_columns, "na_values": na_values},
                        text_columns=set(text_columns))
    return conform_to_schema(frame, schema)


def read_drop_as_text(path: str | Path) -> pd.DataFrame:
    """Read a drop that has no schema yet (``schema draft``): every CSV cell as text, only an
    empty cell missing; a Parquet file keeps its types. Refuses a header that names a column
    twice (pandas would rename the second). Reads private values, not DP."""
    path = Path(path)
    frame = _read_table(path, csv_options={"dtype": "string", "na_values": [""]}, text_columns=set())
    if path.suffix.lower() == ".csv":
        with path.open(encoding="utf-8", newline="") as handle:
            header = next(csv.reader(handle), [])
        repeated = [i for i, name in enumerate(header) if header.count(name) > 1]
        if repeated:
            # Positions, not names: a first line that is not a header holds row values.
            raise DropReadError(f"drop {path.name!r} repeats a column name in its header (positions "
                                f"{repeated[:20]}); give each column its own name")
    return frame


def _read_table(path: Path, *, csv_options: dict, text_columns: set[str]) -> pd.DataFrame:
    """The file as a frame, or a ``DropReadError`` that names the file and the problem."""
    if not path.is_file():
        raise DropReadError(f"drop {path.name!r} does not exist in {path.parent}")
    suffix = path.suffix.lower()
    if suffix not in SUPPORTED_SUFFIXES:
        raise DropReadError(
            f"drop {path.name!r} has suffix {suffix or '(none)'}; only CSV and Parquet files are read"
        )
    if path.stat().st_size == 0:
        raise DropReadError(f"drop {path.name!r} is an empty file: it has no header and no rows")
    try:
        if suffix == ".csv":
            # low_memory=False: one type per column, inferred over the whole file (chunked
            # inference gives a column ints in some chunks and strings in others).
            frame = pd.read_csv(path, keep_default_na=False, encoding="utf-8", low_memory=False, **csv_options)
        else:
            frame = pd.read_parquet(path)
            for name in text_columns & set(frame.columns):
                frame[name] = frame[name].astype("string")
    except UnicodeDecodeError:
        raise DropReadError(f"drop {path.name!r} is not UTF-8 text; re-export it as UTF-8 CSV") from None
    except (pd.errors.ParserError, csv.Error) as exc:
        # The parser's message quotes line numbers and counts, not cell contents.
        raise DropReadError(f"drop {path.name!r} is not parseable as CSV: {str(exc).splitlines()[0]}") from None
    except pd.errors.EmptyDataError:
        raise DropReadError(f"drop {path.name!r} has no columns: the file holds no header") from None
    except (OSError, ValueError) as exc:
        raise DropReadError(f"drop {path.name!r} could not be read as {suffix[1:]}: {type(exc).__name__}") from None
    if frame.empty:
        raise DropReadError(f"drop {path.name!r} has a header but no rows")
    return frame


def conform_to_schema(frame: pd.DataFrame, schema: TableSchema) -> pd.DataFrame:
    """Types as users write them: whole-number floats in an integer column become integers
    (``14.0`` -> 14), and a boolean column's spellings (``BOOLEAN_SPELLINGS``) become
    'true'/'false'. What does not conform is left as it is, for the raw-data gate to count
    (a fraction, a word). Reads private values, not DP: it only retypes the frame."""
    for col in schema.columns:
        if col.name not in frame:
            continue
        values = frame[col.name]
        if col.type == "boolean":
            spelled = values.astype("string").str.strip().str.lower()
            frame[col.name] = spelled.replace(BOOLEAN_SPELLINGS)
        elif col.type == "integer" and pd.api.types.is_float_dtype(values) and _whole_and_complete(values):
            frame[col.name] = values.astype("int64")
    return frame


def _whole_and_complete(values: pd.Series) -> bool:
    # A column with an empty cell stays float (missing values need it); the gate counts
    # the empty cells of a column not declared nullable.
    # Past 2**53 a float no longer holds every integer exactly: leave such columns as floats.
    numbers = values.to_numpy(dtype=float, na_value=np.nan)
    return bool(np.isfinite(numbers).all() and (numbers == np.round(numbers)).all()
                and (np.abs(numbers) <= 2.0**53).all())


def draw_holdout(n_rows: int, *, holdout_fraction: float, what: str = "rows") -> np.ndarray:
    """Which rows go to the audit holdout: each row on its own, with probability
    ``holdout_fraction``, from the secret source (fresh per run, never seeded). Adding or
    removing one row changes no other row's side, so the training split of neighbouring
    drops are neighbours. Reads no values (only how many rows there are)."""
    if not 0.0 < holdout_fraction < 1.0:
        raise ValueError(f"holdout_fraction must lie in (0, 1), got {holdout_fraction}")
    holdout = secret_rng().bernoulli(holdout_fraction, n_rows)
    if holdout.all() or not holdout.any():
        raise ValueError(f"the table is too small: too few {what} to split off a holdout of {holdout_fraction:.0%}")
    return holdout


def apply_holdout(frame: pd.DataFrame, holdout: np.ndarray) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(train, holdout) of ``frame`` by the mask of ``draw_holdout``; order kept."""
    holdout = np.asarray(holdout, dtype=bool)
    if len(holdout) != len(frame):
        raise ValueError(f"the holdout mask covers {len(holdout)} rows, the drop has {len(frame)}: "
                         "materialize holdout_split again for this drop")
    return frame[~holdout].reset_index(drop=True), frame[holdout].reset_index(drop=True)


def split_holdout(frame: pd.DataFrame, *, holdout_fraction: float) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Split rows into (train, holdout) with a fresh secret mask (``draw_holdout``); the
    holdout is never seen by a generator. Costs no budget: it reads no values."""
    return apply_holdout(frame, draw_holdout(len(frame), holdout_fraction=holdout_fraction))
