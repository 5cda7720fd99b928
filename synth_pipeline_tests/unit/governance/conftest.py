"""Governance records on a throwaway ledger file, and a staged release to act on."""

import pytest

from synth_pipeline_tests.helpers.governance import records_at, stage_release_for_test


@pytest.fixture
def records(tmp_path):
    return records_at(tmp_path / "ledger.duckdb")


@pytest.fixture
def stage(tmp_path, records):
    """``stage(run_id, partition=...)``: a staged release; returns its run folder."""
    return lambda *args, **kwargs: stage_release_for_test(tmp_path, records, *args, **kwargs)
