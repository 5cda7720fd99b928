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


@pytest.fixture(scope="session")
def schema():
    from synth_pipeline.schema import load_schema

    return load_schema(SCHEMA)


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
