"""Fixtures shared by the reporting tests."""

import pytest

from synth_pipeline.reporting.documents import build_documents
from synth_pipeline_tests.helpers.reporting import AUDIT, CONFIG, HISTORY, LEDGER, MODEL, PII, PROFILE


@pytest.fixture(scope="session")
def documents(schema, sample_frame):
    synthetic = sample_frame.sample(frac=1.0, random_state=1).reset_index(drop=True)  # a stand-in, no training
    return build_documents(schema=schema, profile=PROFILE, pii=PII, config=CONFIG, model=MODEL, audit=AUDIT,
                           ledger_after=LEDGER, ledger_history=HISTORY, real_holdout=sample_frame.head(300),
                           synthetic=synthetic.head(300), partition_key="drop.csv", run_id="run-1",
                           run_events=[{"at": 1_700_000_000.0, "kind": "RUN_START"}])
