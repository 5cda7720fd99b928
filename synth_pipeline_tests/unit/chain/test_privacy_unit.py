"""A person, not a row: training bounds each person's rows, the ledger event names the unit
and its k, the noise is calibrated to k and still adds up to the charged ρ, the reports say
the unit, and a dataset's ledger never mixes units. Refusals charge nothing."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from synth_pipeline.chain import configuring, training
from synth_pipeline.privacy.config import SynthesisConfig
from synth_pipeline.privacy.ledger import BudgetExceededError, PrivacyLedger
from synth_pipeline.profiling import profile_dataset
from synth_pipeline.schema import parse_schema

COLUMNS = [{"name": "pid", "type": "string", "role": "direct_identifier"},
           {"name": "colour", "type": "categorical", "categories": ["red", "green", "blue"]},
           {"name": "smoker", "type": "boolean"},
           {"name": "age", "type": "integer", "bounds": [0, 99]}]
PANEL = {"dataset": "panel", "max_rows": 2000, "columns": COLUMNS, "privacy_unit": "pid", "max_rows_per_unit": 6,
         "max_units": 400}


@pytest.fixture(scope="module")
def panel() -> pd.DataFrame:
    """150 persons with 1 to 6 rows each (one secret-looking id each)."""
    rng = np.random.default_rng(4)
    sizes = 1 + np.arange(150) % 6
    n = int(sizes.sum())
    return pd.DataFrame({"pid": pd.array(np.repeat([f"person-{i:03d}" for i in range(150)], sizes), dtype="string"),
                         "colour": pd.array(rng.choice(["red", "green", "blue"], n), dtype="string"),
                         "smoker": pd.array(rng.choice(["true", "false"], n), dtype="string"),
                         "age": rng.integers(0, 100, n)})


def _train(frame, schema, generator, ledger, tmp_path, **fields):
    config = SynthesisConfig(generator=generator, epsilon=2.0, delta=1e-6, epochs=1, batch_size=40, **fields)
    return training.train_model(train=frame, schema=schema, config=config, ledger=ledger, run_key=f"{generator}{fields}",
                                model_dir=tmp_path / generator)


@pytest.mark.integration
def test_mst_calibrates_every_measurement_to_k_and_spends_exactly_the_charged_rho(panel, tmp_path):
    ledger = PrivacyLedger(tmp_path / "ledger.duckdb", default_budget_epsilon=10, default_budget_delta=1e-4)
    person = _train(panel, parse_schema({**PANEL, "max_rows_per_unit": 6}), "mst", ledger, tmp_path, rows_per_unit=4)
    row = _train(panel.drop(columns="pid"), parse_schema({**PANEL, "dataset": "rows", "privacy_unit": None,
                                                          "max_rows_per_unit": None, "max_units": None,
                                                          "columns": COLUMNS[1:]}), "mst", ledger, tmp_path / "r")
    event = ledger.history("panel")[0]
    assert event["params"]["privacy_unit"] == "pid" and event["params"]["rows_per_unit"] == 4
    assert person["training"]["rho_spent"] == pytest.approx(person["plan"]["rho"], rel=1e-9)
    # the same ρ over the same columns: every σ is k times the row-level one
    ratios = np.array(person["training"]["noise_stddevs"][:3]) / np.array(row["training"]["noise_stddevs"][:3])
    assert ratios == pytest.approx(4.0 * person["plan"]["rho"] ** -0.5 / row["plan"]["rho"] ** -0.5, rel=1e-6)
    assert person["privacy"]["unit"].startswith("one person") and "at most 4 rows" in person["privacy"]["unit"]
    assert "add/remove one person" in person["privacy"]["neighbouring_relation"]
    # what bounding dropped is counted for the internal review, never in the released model files
    assert person["contribution_bounding"]["units"] == 150 and person["contribution_bounding"]["rows_dropped"] > 0
    meta = (Path(person["model_dir"]) / "model.json").read_text()
    assert "rows_dropped" not in meta and "person-" not in meta and '"units"' not in meta


@pytest.mark.integration
def test_dp_tvae_samples_persons_at_the_public_rate(panel, tmp_path):
    ledger = PrivacyLedger(tmp_path / "ledger.duckdb", default_budget_epsilon=10, default_budget_delta=1e-4)
    result = _train(panel, parse_schema(PANEL), "dp-tvae", ledger, tmp_path)
    assert result["plan"]["sample_rate"] == pytest.approx(1 / 10)  # 40 of max_units 400, not of the rows
    assert result["plan"]["rows_per_unit"] == 6  # the schema's max_rows_per_unit when the config sets none
    event = ledger.history("panel")[0]
    assert event["mechanism"] == "dp-sgd" and event["params"]["privacy_unit"] == "pid"
    assert event["epsilon"] <= 2.0


def test_a_ledger_never_mixes_privacy_units_and_a_refusal_charges_nothing(panel, tmp_path):
    ledger = PrivacyLedger(tmp_path / "ledger.duckdb", default_budget_epsilon=10, default_budget_delta=1e-4)
    common = {"dataset": "panel", "mechanism": "zcdp", "epsilon": 1.0, "delta": 1e-6}
    ledger.reserve(run_key="rows", params={"rho": 0.05}, **common)
    with pytest.raises(BudgetExceededError, match="an ε per row and an ε per person do not add up"):
        ledger.reserve(run_key="persons", params={"rho": 0.05, "privacy_unit": "pid", "rows_per_unit": 4}, **common)
    assert [e["run_key"] for e in ledger.history("panel")] == ["rows"]
    other = PrivacyLedger(tmp_path / "other.duckdb", default_budget_epsilon=10, default_budget_delta=1e-4)
    other.reserve(run_key="k4", params={"rho": 0.05, "privacy_unit": "pid", "rows_per_unit": 4}, **common)
    other.reserve(run_key="k2", params={"rho": 0.05, "privacy_unit": "pid", "rows_per_unit": 2}, **common)  # same unit
    assert len(other.history("panel")) == 2


@pytest.mark.parametrize("fields, schema_change, words", [
    ({"rows_per_unit": 9}, {}, "larger than the schema's max_rows_per_unit"),
    ({}, {"max_rows_per_unit": None}, "declare max_rows_per_unit"),
    ({"rows_per_unit": 2}, {"privacy_unit": None, "max_rows_per_unit": None, "max_units": None}, "no privacy_unit"),
    ({}, {"max_units": 120}, "more persons than the schema's max_units"),
])
def test_the_config_gate_refuses_a_bad_k_before_any_charge(panel, tmp_path, fields, schema_change, words):
    schema = parse_schema({**PANEL, **schema_change})
    config = SynthesisConfig(generator="mst", epsilon=1.0, **fields)
    result = configuring.validate_config(config, profile_dataset(panel, schema), schema)
    assert not result.is_valid and any(words in e for e in result.errors)
    ledger = PrivacyLedger(tmp_path / "ledger.duckdb")
    with pytest.raises(Exception, match=words):
        training.train_model(train=panel, schema=schema, config=config, ledger=ledger, run_key="x",
                             model_dir=tmp_path / "m")
    assert ledger.history("panel") == []


def test_every_person_with_one_row_works_and_says_so(tmp_path):
    frame = pd.DataFrame({"pid": pd.array([f"p{i}" for i in range(300)], dtype="string"),
                          "colour": pd.array(["red", "green", "blue"] * 100, dtype="string"),
                          "smoker": pd.array(["true", "false"] * 150, dtype="string"), "age": np.arange(300) % 90})
    ledger = PrivacyLedger(tmp_path / "ledger.duckdb", default_budget_epsilon=10, default_budget_delta=1e-4)
    result = _train(frame, parse_schema(PANEL), "mst", ledger, tmp_path)
    bounding = result["contribution_bounding"]
    assert bounding["units_with_one_row"] == bounding["units"] == 300 and bounding["rows_dropped"] == 0
    assert bounding["finding"].startswith("every person has one row")
    assert "at most 6 rows" in json.dumps(result["privacy"])


@pytest.mark.parametrize("generator", ["dp-tvae", "dp-ctgan"])
def test_training_randomness_of_a_dp_fit_is_not_the_published_seed(generator, panel, monkeypatch):
    """Dropout, latent draws and fake rows are consumed per sampled row (a private count): a DP
    fit draws them from a fresh secret seed, never from config.seed, which sets only the weights."""
    import torch

    from synth_pipeline.chain.training import fit_generator
    from synth_pipeline.privacy.config import plan_training
    from synth_pipeline.privacy.contribution import privacy_unit_of
    from synth_pipeline.synthesizers import training as dp_training

    monkeypatch.setattr(dp_training, "fresh_training_seed", lambda: 987654321)
    schema = parse_schema(PANEL)
    config = SynthesisConfig(generator=generator, epsilon=2.0, delta=1e-6, epochs=1, batch_size=40, seed=5)
    plan = plan_training(config, 400, columns=schema.modelled_columns, unit=privacy_unit_of(schema))
    fit_generator(panel, schema.modelled_columns, config, plan)
    assert torch.initial_seed() == 987654321


def test_the_fresh_training_seed_is_secret_and_replayed_only_in_tests():
    from synth_pipeline.privacy.secret_random import replayable_for_tests
    from synth_pipeline.synthesizers.training import fresh_training_seed

    assert len({fresh_training_seed() for _ in range(5)}) == 5
    with replayable_for_tests(3):
        first = fresh_training_seed()
    with replayable_for_tests(3):
        assert fresh_training_seed() == first

