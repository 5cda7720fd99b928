"""synth_pipeline.chain.training: the config gate reads the public max_rows, never n, and
refuses before any charge; one neighbour relation per dataset, stated and honoured by
training (add/remove with n private by default; replace-one where the schema declares the
row count public); one privacy unit per dataset (one row, or a person of at most k rows)."""

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


@pytest.mark.integration
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


@pytest.mark.integration
def test_the_default_relation_is_add_remove_with_n_private(toy, tmp_path):
    schema = parse_schema({**RAW, "max_rows": 500})
    result, event = _train(toy, schema, "dp-tvae", tmp_path)
    assert result["privacy"]["neighbouring_relation"].startswith("add/remove one row")
    assert event["mechanism"] == "dp-sgd" and "relation" not in event["params"]
    assert result["synthetic_rows_source"] == "a DP estimate of the training rows"


@pytest.mark.integration
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


@pytest.mark.integration
@pytest.mark.parametrize("generator", ["mst", "aim"])
def test_marginal_generators_buy_open_domains_in_the_same_zcdp_event(generator, toy, tmp_path):
    """A schema of names and types only: the domains come from DP statistics charged in the
    one zCDP event (ρ and the thresholds' δ), and the noise of both parts adds up to it."""
    from synth_pipeline.privacy.preprocessing import PreprocessingPlan

    schema = parse_schema({"dataset": "toy", "max_rows": 500, "label": "smoker", "columns": [
        {"name": "colour", "type": "categorical"}, {"name": "smoker", "type": "boolean"},
        {"name": "age", "type": "integer"}]})
    result, event = _train(toy, schema, generator, tmp_path)
    if generator == "aim":  # the workload is public and stated: the label's pairs weigh more
        assert "'smoker' weigh 5 times more" in result["privacy"]["workload"]
        assert result["training"]["workload_label"] == "smoker"
    pre = PreprocessingPlan(**result["plan"]["preprocessing"])
    assert (pre.numeric, pre.categorical) == (("age",), ("colour",))
    assert event["mechanism"] == "zcdp" and event["params"]["rho"] == result["plan"]["rho"]
    assert event["params"]["extra_delta"] == pre.threshold_delta > 0
    assert event["epsilon"] <= 2.0 and event["delta"] == 1e-5
    # The histograms' Gaussian noise and the marginal mechanisms' spends add up to the event's ρ.
    domain_rho = len(pre.numeric + pre.categorical) * (1 / (2 * pre.noise_std ** 2))
    assert domain_rho + result["training"]["rho_spent"] == pytest.approx(event["params"]["rho"], rel=1e-9)
    assert set(result["dp_statistics"]["colour"]["categories"]) <= {"red", "green", "blue"}
    lower, upper = result["dp_statistics"]["age"]["bounds"]
    synthetic = training.sample_synthetic(result["model_dir"], rows=300, seed=0)
    assert synthetic["age"].between(lower, upper).all()
    assert set(synthetic["colour"].dropna()) <= set(result["dp_statistics"]["colour"]["categories"])


@pytest.mark.integration
@pytest.mark.parametrize("generator", ["mst", "dp-ctgan"])
def test_a_declared_code_list_comes_back_as_exactly_those_codes(generator, toy, tmp_path):
    """A float column of 6 codes declared as `values` is modelled as discrete: the synthetic
    column holds only those codes (it used to come back as uniform values inside bins)."""
    codes = [0.5, 1.0, 2.0, 3.5, 7.0, 9.0]
    frame = toy.assign(grade=np.random.default_rng(2).choice(codes, len(toy), p=[.4, .2, .15, .1, .1, .05]))
    schema = parse_schema({**RAW, "max_rows": 500,
                           "columns": RAW["columns"] + [{"name": "grade", "type": "float", "values": codes}]})
    result, _ = _train(frame, schema, generator, tmp_path)
    synthetic = training.sample_synthetic(result["model_dir"], rows=2000, seed=0)
    assert set(synthetic["grade"].dropna()) <= set(codes)
    if generator == "mst":  # a good DP model of a 6-cell marginal at ε=2 over 400 rows
        real = frame["grade"].value_counts(normalize=True)
        fake = synthetic["grade"].value_counts(normalize=True)
        assert 0.5 * sum(abs(real.get(v, 0) - fake.get(v, 0)) for v in codes) < 0.15
    else:  # the conditional GAN's condition frequencies cover the codes, from the DP release
        assert set(result["dp_statistics"]["grade"]["frequencies"]) == {repr(v) for v in codes}


# -- n is private: max_rows, refusals before any charge -----------------------------------------
def _profile(schema, n_rows: int) -> dict:
    from synth_pipeline.profiling import profile_dataset

    profile = profile_dataset(__import__("pandas").DataFrame(), schema)
    return {**profile, "n_rows": n_rows}


def test_a_schema_without_max_rows_is_refused_with_what_to_declare(schema):
    from dataclasses import replace

    from synth_pipeline.chain.configuring import validate_config

    result = validate_config(SynthesisConfig(generator="mst"), _profile(replace(schema, max_rows=None), 1000),
                             replace(schema, max_rows=None))
    assert not result.is_valid and "declares no max_rows" in result.errors[0] and len(result.errors) == 1


def test_a_drop_larger_than_max_rows_is_refused_and_the_message_hides_n(schema):
    from synth_pipeline.chain.configuring import validate_config

    result = validate_config(SynthesisConfig(generator="mst"), _profile(schema, 1501), schema)
    assert not result.is_valid and any("more rows than the schema's max_rows (1500)" in e for e in result.errors)
    assert not any("1501" in e for e in result.errors)


def test_the_plan_reads_max_rows_never_n(schema):
    """Two drops of different sizes under one schema get the same rate, steps and δ."""
    from synth_pipeline.chain.configuring import validate_config

    config = SynthesisConfig(generator="dp-tvae", epochs=2, batch_size=50)
    plans = [validate_config(config, _profile(schema, n), schema).plan for n in (400, 1400)]
    assert plans[0] == plans[1] and plans[0]["delta"] == pytest.approx(min(1e-5, 0.1 / 1500))
    assert plans[0]["sample_rate"] == pytest.approx(1 / 30)


def test_synthetic_rows_above_max_rows_warn(schema):
    from synth_pipeline.chain.configuring import validate_config

    result = validate_config(SynthesisConfig(generator="mst", synthetic_rows=5000), _profile(schema, 1000), schema)
    assert result.is_valid and any("above the schema's max_rows" in w for w in result.warnings)


# -- a person, not a row: training bounds each person's rows, the ledger event names the unit
# and its k, the noise is calibrated to k and still adds up to the charged ρ, the reports say
# the unit, and a dataset's ledger never mixes units. Refusals charge nothing.

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


def _train_unit(frame, schema, generator, ledger, tmp_path, **fields):
    config = SynthesisConfig(generator=generator, epsilon=2.0, delta=1e-6, epochs=1, batch_size=40, **fields)
    return training.train_model(train=frame, schema=schema, config=config, ledger=ledger, run_key=f"{generator}{fields}",
                                model_dir=tmp_path / generator)


@pytest.mark.integration
def test_mst_calibrates_every_measurement_to_k_and_spends_exactly_the_charged_rho(panel, tmp_path):
    ledger = PrivacyLedger(tmp_path / "ledger.duckdb", default_budget_epsilon=10, default_budget_delta=1e-4)
    person = _train_unit(panel, parse_schema({**PANEL, "max_rows_per_unit": 6}), "mst", ledger, tmp_path, rows_per_unit=4)
    row = _train_unit(panel.drop(columns="pid"), parse_schema({**PANEL, "dataset": "rows", "privacy_unit": None,
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
    result = _train_unit(panel, parse_schema(PANEL), "dp-tvae", ledger, tmp_path)
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
    result = _train_unit(frame, parse_schema(PANEL), "mst", ledger, tmp_path)
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

