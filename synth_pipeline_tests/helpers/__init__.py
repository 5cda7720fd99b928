"""Helpers shared by the test modules: paths of the bundled sample, the tests' public row
bound, and small table makers. Test modules import from here (or take conftest fixtures),
never from one another.

Kept light (no pandas or torch at import): the ledger race test's 'spawn' children import
``helpers.ledger_race`` and with it this package.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pandas as pd

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "data" / "sample" / "adult_sample.csv"
SCHEMA = ROOT / "data" / "sample" / "adult_schema.yaml"

# The public row bound of the tests' slices (at most 1,200 rows): sampling rates and δ come
# from max_rows, so the bundled schema's 50,000 would plan thousands of steps on 400 rows.
TEST_MAX_ROWS = 1500

# A small column set of the sample for the marginal generators: keeps AIM's rounds few (16·d)
# and the tests fast.
MARGINAL_TEST_COLUMNS = ["age", "education", "marital", "relationship", "sex", "income"]


def schema_file_for_tests(folder: Path) -> Path:
    """The bundled schema with ``max_rows`` set to TEST_MAX_ROWS, written into ``folder``
    (for the CLI and deployment tests that read a schema file)."""
    import yaml

    raw = yaml.safe_load(SCHEMA.read_text(encoding="utf-8"))
    raw["max_rows"] = TEST_MAX_ROWS
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / SCHEMA.name
    path.write_text(yaml.safe_dump(raw), encoding="utf-8")
    return path


def fixed_split(frame: pd.DataFrame, *, holdout_fraction: float, seed: int = 0):
    """A fixed (seeded) train/holdout split for test fixtures, so that the audit's numbers do
    not move with the split. Releases use the pipeline's secret, per-run split."""
    import numpy as np

    from synth_pipeline.data_io import apply_holdout

    return apply_holdout(frame, np.random.default_rng(seed).random(len(frame)) < holdout_fraction)


def independent_marginals(frame: pd.DataFrame, seed: int = 0) -> pd.DataFrame:
    """Each column resampled on its own from the real training marginal: no joint structure."""
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(seed)
    return pd.DataFrame({
        name: frame[name].iloc[rng.integers(0, len(frame), size=len(frame))].reset_index(drop=True)
        for name in frame.columns
    })
