"""AIM's and MST's round lines: every round names what it measured and the ρ spent so far,
which reaches the plan's ρ at the last round; no raw value and no exact count of the rows
appears in any line (docs/privacy.md, invariant 5)."""

import logging
import re

import numpy as np
import pandas as pd
import pytest

from synth_pipeline.privacy.config import SynthesisConfig, plan_training
from synth_pipeline.schema import parse_schema
from synth_pipeline.synthesizers import generator_class
from synth_pipeline.synthesizers.transforms import TableCodec

CANARY_WARD, CANARY_VISITS = "Zebulon-Ward-7731", 98765
SCHEMA = parse_schema({"dataset": "canaries", "max_rows": 1000, "columns": [
    {"name": "ward", "type": "categorical", "categories": ["north", "south", CANARY_WARD]},
    {"name": "status", "type": "categorical", "categories": ["a", "b"]},
    {"name": "visits", "type": "integer", "bounds": [0, 100000]}]})


@pytest.fixture(scope="module")
def table() -> pd.DataFrame:
    """737 rows; 113 of them carry the canary ward and the canary visit count."""
    rng = np.random.default_rng(5)
    ward = ["north"] * 389 + ["south"] * 235 + [CANARY_WARD] * 113
    status = ["a"] * 457 + ["b"] * 280
    visits = list(rng.integers(0, 60000, 624)) + [CANARY_VISITS] * 113
    return pd.DataFrame({"ward": ward, "status": rng.permutation(status), "visits": visits})


def _exact_counts(codec: TableCodec, frame: pd.DataFrame) -> set[int]:
    """Every exact one- and two-way cell count of the table, and n."""
    cells = codec.encode_cells(frame)
    counts = {len(frame)}
    for j in range(cells.shape[1]):
        counts |= set(np.bincount(cells[:, j]).tolist())
        for k in range(j + 1, cells.shape[1]):
            counts |= set(pd.Series(list(zip(cells[:, j], cells[:, k]))).value_counts().tolist())
    return counts


@pytest.mark.parametrize("generator", ["aim", "mst"])
def test_rounds_log_what_was_measured_and_rho_up_to_the_plan_and_no_raw_value(generator, table, caplog):
    columns = SCHEMA.modelled_columns
    config = SynthesisConfig(generator=generator, epsilon=1.0, delta=1e-5)
    plan = plan_training(config, SCHEMA.max_rows, columns=columns)
    codec = TableCodec.from_schema(columns)
    caplog.set_level(logging.DEBUG, logger="synth_pipeline")
    generator_class(generator)(codec, round_iters=5, final_iters=10).fit(table, config=config, plan=plan)

    rounds = [r for r in caplog.records if getattr(r, "progress", {}).get("task") == generator]
    assert len(rounds) >= 3 and rounds[-1].levelno == logging.INFO and rounds[-1].progress["final"]
    assert all(not r.progress["final"] for r in rounds[:-1])
    spent = [r.progress["rho_spent"] for r in rounds]
    assert spent == sorted(spent) and spent[-1] == pytest.approx(plan.rho, rel=1e-9)
    assert rounds[-1].progress["done"] == pytest.approx(1.0) and "(100%)" in rounds[-1].getMessage()
    names = {c.name for c in columns}
    for r in rounds[1:]:  # after the one-ways, every round names its clique by schema names
        clique = r.progress.get("measured") or r.progress.get("selected")
        assert clique and set(clique) <= names and " × ".join(clique) in r.getMessage()
    assert re.search(r"\(\d+\.\d s\)$", rounds[-1].getMessage())  # elapsed seconds

    text = "\n".join(r.getMessage() + " " + str(getattr(r, "progress", "")) for r in caplog.records)
    assert CANARY_WARD not in text and str(CANARY_VISITS) not in text
    # Integers of 100 or less are round numbers, column counts and percentages too.
    leaked = {int(t) for t in re.findall(r"(?<![\d.])\d+(?![\d.])", text)} & {c for c in _exact_counts(codec, table)
                                                                              if c > 100}
    assert not leaked, f"exact counts of the rows in the logs: {sorted(leaked)}"
