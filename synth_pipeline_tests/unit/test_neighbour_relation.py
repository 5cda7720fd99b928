"""One neighbour relation per dataset, stated and honoured: add/remove with n private by
default; replace-one where the schema declares the row count public."""

import numpy as np
import pandas as pd
import pytest

from synth_pipeline.chain import configuring, training
from synth_pipeline.privacy.config import SynthesisConfig
from synth_pipeline.privacy.ledger import PrivacyLedger
from synth_pipeline.schema import parse_schema

RAW = {"dataset": "toy", "columns": [
    {"name": "colour", "type": "categorical", "categories": ["red", "green", "blue"]},
    {"name": "smoker", "type": "boolean"},
    {"name": "age", "type": "integer", "bounds": [0, 99]}]}


@pytest.fixture(scope="module")
def toy() -> pd.DataFrame:
    rng = np.random.default_rng(1)
    return pd.DataFrame({"colour": pd.array(rng.choice(["red", "green", "blue"], 400), dtype="string"),
                         "smoker": pd.array(rng.choice(["true", "false"], 400), dtype="string"),
                         "age": rng.integers(0, 100, 400)})


def _train(frame, schema, generator, tmp_path):
    ledger = PrivacyLedger(tmp_path / "ledger.duckdb", default_budget_epsilon=10, default_budget_delta=1e-4)
    config = SynthesisConfig(generator=generator, epsilon=2.0, delta=1e-5, epochs=1, batch_size=50)
    result = training.train_model(train=frame, schema=schema, config=config, ledger=ledger, run_key=generator,
                                    model_dir=tmp_path / generator)
    return result, ledger.history("toy")[0]


@pytest.mark.parametrize("generator", ["mst", "dp-tvae"])
def test_a_declared_public_row_count_switches_the_accounting_to_replace_one(generator, toy, tmp_path):
    schema = parse_schema({**RAW, "row_count_public": True})  # no max_rows needed: n is public
    assert schema.relation == "replace-one"
    result, event = _train(toy, schema, generator, tmp_path)
    privacy = result["privacy"]
    assert privacy["neighbouring_relation"].startswith("replace one row") and privacy["relation"] == "replace-one"
    assert result["synthetic_rows"] == len(toy)  # n is public: no DP estimate needed
    assert event["epsilon"] <= 2.0
    if generator == "mst":
        assert event["mechanism"] == "zcdp" and event["params"]["relation"] == "replace-one"
    else:  # no RDP curve for replace-one DP-SGD: an (ε, δ) event from PLD
        assert event["mechanism"] == "approx-dp" and event["params"]["relation"] == "replace-one"
        assert "PLD" in privacy["accountant"]


def test_the_default_relation_is_add_remove_with_n_private(toy, tmp_path):
    schema = parse_schema({**RAW, "max_rows": 500})
    result, event = _train(toy, schema, "dp-tvae", tmp_path)
    assert result["privacy"]["neighbouring_relation"].startswith("add/remove one row")
    assert event["mechanism"] == "dp-sgd" and "relation" not in event["params"]
    assert result["synthetic_rows_source"] == "a DP estimate of the training rows"


def test_replace_one_releases_compose_by_addition_in_the_ledger(tmp_path):
    ledger = PrivacyLedger(tmp_path / "l.duckdb", default_budget_epsilon=5, default_budget_delta=1e-4)
    for key in ("a", "b"):
        ledger.reserve(dataset="toy", run_key=key, mechanism="approx-dp", epsilon=2.0, delta=1e-5,
                       params={"epsilon": 2.0, "delta": 1e-5, "relation": "replace-one"})
    spend = ledger.spend("toy")
    assert spend.spent_epsilon == pytest.approx(4.0) and spend.remaining_epsilon == pytest.approx(1.0)
    refusal = ledger.check(dataset="toy", mechanism="approx-dp", epsilon=2.0, delta=1e-5,
                           params={"epsilon": 2.0, "delta": 1e-5, "relation": "replace-one"})
    assert refusal is not None and "left ε=1" in refusal


def test_the_config_gate_prices_the_plan_that_training_reserves_under_replace_one(toy, tmp_path):
    """n public: both sides plan from the drop's n (the split's training rows are a random
    share of it), so the budget gate's request is the ledger's reservation."""
    from synth_pipeline.data_io import split_holdout
    from synth_pipeline.profiling import profile_dataset

    schema = parse_schema({**RAW, "row_count_public": True})
    config = SynthesisConfig(generator="dp-tvae", epsilon=2.0, delta=1e-5, epochs=1, batch_size=50)
    validated = configuring.validate_config(config, profile_dataset(toy, schema), schema).plan
    train, _ = split_holdout(toy, holdout_fraction=0.2)
    ledger = PrivacyLedger(tmp_path / "ledger.duckdb", default_budget_epsilon=10, default_budget_delta=1e-4)
    result = training.train_model(train=train, schema=schema, config=config, ledger=ledger, run_key="k",
                                    model_dir=tmp_path / "m", drop_rows=len(toy))
    assert result["plan"] == validated
