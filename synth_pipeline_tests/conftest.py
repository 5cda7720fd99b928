"""Shared fixtures: tiny frames cut from the bundled sample, and its public schema."""

import os
from pathlib import Path

import pandas as pd
import pytest

os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
os.environ.setdefault("SYNTH_PIPELINE_DEVICE", "cpu")

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "data" / "sample" / "adult_sample.csv"
SCHEMA = ROOT / "data" / "sample" / "adult_schema.yaml"


# The public row bound of the tests' slices (at most 1,200 rows): sampling rates and δ come
# from max_rows, so the bundled schema's 50,000 would plan thousands of steps on 400 rows.
TEST_MAX_ROWS = 1500


@pytest.fixture(scope="session")
def schema():
    """The bundled schema with ``max_rows`` set to the test slices' bound."""
    from dataclasses import replace

    from synth_pipeline.schema import load_schema

    return replace(load_schema(SCHEMA), max_rows=TEST_MAX_ROWS)


@pytest.fixture(scope="session")
def sample_frame(schema) -> pd.DataFrame:
    """The first 1,200 rows of the bundled sample, as the drop reader types them."""
    from synth_pipeline.data_io import read_drop

    return read_drop(SAMPLE, schema).head(1200).reset_index(drop=True)


@pytest.fixture
def small_drop(tmp_path, sample_frame) -> Path:
    path = tmp_path / "small drop é.csv"  # a file name with a space and unicode
    sample_frame.to_csv(path, index=False)
    return path


def fixed_split(frame: pd.DataFrame, *, holdout_fraction: float, seed: int = 0):
    """A fixed (seeded) train/holdout split for test fixtures, so that the audit's numbers do
    not move with the split. Releases use the pipeline's secret, per-run split."""
    import numpy as np

    from synth_pipeline.data_io import apply_holdout

    return apply_holdout(frame, np.random.default_rng(seed).random(len(frame)) < holdout_fraction)
