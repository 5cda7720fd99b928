"""Shared fixtures: tiny frames cut from the bundled sample, its public schema, a temporary
project with a Dagster instance, and one-thread limits for model fits.

Constants and plain helpers live in ``synth_pipeline_tests.helpers``; test modules import
from there, never from conftest or from one another.
"""

import os
from pathlib import Path

import pandas as pd
import pytest

os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
os.environ.setdefault("SYNTH_PIPELINE_DEVICE", "cpu")
# Great Expectations in this process: a child per raw-data gate would import it again each time.
# test_expectations.py checks the child path itself.
os.environ.setdefault("SYNTH_PIPELINE_GX_INLINE", "1")

from synth_pipeline_tests.helpers import SAMPLE, SCHEMA, TEST_MAX_ROWS, fixed_split  # noqa: E402


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


@pytest.fixture(scope="module")
def halves(sample_frame):
    """Equal-sized real train and holdout (600 rows each)."""
    return fixed_split(sample_frame, holdout_fraction=0.5)


@pytest.fixture(scope="module")
def one_openmp_thread():
    """HistGradientBoosting's OpenMP threads thrash on a busy 2-core machine (a 0.1 s fit took
    100 s here under load); one thread keeps the fits fast and deterministic. Modules opt in
    with ``pytestmark = pytest.mark.usefixtures("one_openmp_thread")``."""
    from threadpoolctl import threadpool_limits

    # Loads scikit-learn's OpenMP now: threadpool_limits only reaches libraries already loaded.
    import synth_pipeline.evaluation.suite  # noqa: F401

    with threadpool_limits(limits=1):
        yield


@pytest.fixture
def one_torch_thread():
    """Small torch fits run faster on one thread, and steadier on a shared machine. Modules opt
    in with ``pytestmark = pytest.mark.usefixtures("one_torch_thread")``."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture
def project(tmp_path):
    """A temporary project (incoming folder, schema, ledger, outputs) with its own Dagster
    instance, to run the real asset chain in-process (see ``helpers.project.Project``)."""
    import dagster as dg

    from synth_pipeline_tests.helpers.project import Project, instance_settings

    home = tmp_path / "dagster_home"
    home.mkdir()
    with dg.instance_for_test(temp_dir=str(home), overrides=instance_settings()) as instance:
        yield Project(tmp_path, instance)


@pytest.fixture(scope="session")
def postgres_server():
    """A throwaway PostgreSQL server for the whole session (``helpers.postgres``). Skipped where
    no PostgreSQL is installed, unless SYNTH_PIPELINE_REQUIRE_POSTGRES=1 (CI sets it), where
    its absence fails the tests instead."""
    from synth_pipeline_tests.helpers.postgres import PostgresUnavailable, ThrowawayPostgres

    try:
        server = ThrowawayPostgres().start()
    except PostgresUnavailable as exc:
        if os.environ.get("SYNTH_PIPELINE_REQUIRE_POSTGRES") == "1":
            pytest.fail(f"PostgreSQL is required here (SYNTH_PIPELINE_REQUIRE_POSTGRES=1): {exc}")
        pytest.skip(f"no PostgreSQL server to test against: {exc}")
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(params=["duckdb", "postgresql"])
def ledger_location(request, tmp_path) -> str:
    """Where a ledger lives: a new DuckDB file, or a new database on the throwaway PostgreSQL
    server. Tests taking it form the ledger's contract suite and run on both backends."""
    if request.param == "duckdb":
        return str(tmp_path / "ledger" / "privacy.duckdb")
    return request.getfixturevalue("postgres_server").new_database()
