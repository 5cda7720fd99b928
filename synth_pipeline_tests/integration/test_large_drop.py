"""A million-row drop with one bad value deep inside: the raw-data gate names the column and the
count, never the value, and nothing is charged (the gate runs before the ledger is asked)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from synth_pipeline.chain import ReleaseChain
from synth_pipeline.privacy.ledger import PrivacyLedger
from synth_pipeline.schema import parse_schema

pytestmark = pytest.mark.integration

ROWS, BAD_ROW, CANARY = 1_000_000, 987_654, "417x-CANARY"


def test_one_bad_value_in_a_million_rows_is_named_by_column_and_count(tmp_path):
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"age": rng.integers(18, 91, ROWS).astype(str), "plan": rng.choice(["a", "b", "c"], ROWS),
                          "score": rng.uniform(300, 850, ROWS).round(1)})
    frame.loc[BAD_ROW, "age"] = CANARY
    path = tmp_path / "big drop.csv"
    frame.to_csv(path, index=False)
    schema = parse_schema({"dataset": "big", "max_rows": 1_100_000, "label": "plan", "columns": [
        {"name": "age", "type": "integer", "bounds": [18, 90]},
        {"name": "plan", "type": "categorical", "categories": ["a", "b", "c"]},
        {"name": "score", "type": "float", "bounds": [300, 850]}]})
    ledger = PrivacyLedger(tmp_path / "ledger.duckdb", default_budget_epsilon=5, default_budget_delta=1e-6)
    chain = ReleaseChain(schema=schema, ledger=ledger, outputs_dir=tmp_path / "out")
    verdict = chain.check_raw(chain.read(path))
    assert not verdict.passed
    text = verdict.description + " " + str(verdict.metadata)
    assert "age" in text and "1 row" in text
    assert CANARY not in text and "417" not in text
    assert ledger.history() == []
