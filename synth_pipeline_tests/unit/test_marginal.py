"""MST and AIM: the ρ they spend adds up to the plan, decoding stays in the declared domain,
saved models sample reproducibly, and domains past the caps are refused before any charge."""

import math

import numpy as np
import pandas as pd
import pytest

from synth_pipeline.privacy.accounting import calibrate_rho, zcdp_epsilon
from synth_pipeline.privacy.config import SynthesisConfig, plan_training, check_fields
from synth_pipeline.privacy.zcdp import BudgetExceededError, ZcdpBudget, exponential_epsilon, gaussian_sigma
from synth_pipeline.schema import ColumnSpec
from synth_pipeline.synthesizers import generator_class, load_generator
from synth_pipeline.synthesizers.marginal import cells
from synth_pipeline.synthesizers.transforms import TableCodec

# A small column set keeps AIM's rounds few (16·d) and the test fast.
COLUMNS = ["age", "education", "marital", "relationship", "sex", "income"]


@pytest.fixture(scope="module")
def small(schema, sample_frame):
    columns = [schema.column(name) for name in COLUMNS]
    return columns, sample_frame[COLUMNS]


@pytest.fixture(scope="module")
def fitted(small):
    columns, frame = small
    models = {}
    for name in ("mst", "aim"):
        config = SynthesisConfig(generator=name, epsilon=2.0, delta=1e-5, seed=3)
        plan = plan_training(config, len(frame), columns=columns)
        models[name] = (generator_class(name)(TableCodec.from_schema(columns)).fit(frame, config=config, plan=plan),
                        plan)
    return models


def test_rho_calibration_meets_the_target_and_converts_like_the_ledger():
    rho = calibrate_rho(target_epsilon=1.0, delta=1e-6)
    assert zcdp_epsilon(rho=rho, delta=1e-6) <= 1.0
    assert zcdp_epsilon(rho=rho * 1.01, delta=1e-6) > 1.0
    # Tighter than the classic conversion ε = ρ + 2√(ρ log 1/δ), never looser.
    assert rho + 2 * math.sqrt(rho * math.log(1e6)) >= 1.0


def test_budget_refuses_to_overspend_and_records_each_spend():
    rng = np.random.default_rng(0)
    budget = ZcdpBudget(0.1)
    budget.gaussian(np.zeros(3), sigma=gaussian_sigma(0.06), rng=rng, what="a")
    budget.exponential(np.array([1.0, 2.0]), epsilon=exponential_epsilon(0.04), sensitivity=1.0, rng=rng, what="b")
    assert budget.spent == pytest.approx(0.1)
    with pytest.raises(BudgetExceededError):
        budget.gaussian(np.zeros(3), sigma=1.0, rng=rng, what="c")
    assert [s["mechanism"] for s in budget.spends] == ["gaussian", "exponential"]


def test_exponential_mechanism_favours_high_scores():
    rng = np.random.default_rng(1)
    budget = ZcdpBudget(1e6)
    picks = [budget.exponential(np.array([0.0, 100.0, 0.0]), epsilon=1.0, sensitivity=1.0, rng=rng, what="t")
             for _ in range(50)]
    assert picks.count(1) == 50


@pytest.mark.parametrize("name", ["mst", "aim"])
def test_noise_scales_add_up_to_the_charged_rho(fitted, name):
    model, plan = fitted[name]
    spends = model.spends
    total = sum(1 / (2 * s["sigma"] ** 2) for s in spends if s["mechanism"] == "gaussian") + \
        sum(s["epsilon"] ** 2 / 8 for s in spends if s["mechanism"] == "exponential")
    assert total == pytest.approx(plan.rho, rel=1e-9)
    assert model.training_summary["rho_spent"] == pytest.approx(plan.rho, rel=1e-9)
    assert model.training_summary["gaussian_measurements"] >= len(COLUMNS) + 1


def test_mst_measures_a_spanning_tree(fitted):
    model, _ = fitted["mst"]
    pairs = [tuple(c) for c in model.training_summary["cliques"] if len(c) == 2]
    assert len(pairs) == len(COLUMNS) - 1
    assert {name for pair in pairs for name in pair} == set(COLUMNS)


@pytest.mark.parametrize("name", ["mst", "aim"])
def test_samples_stay_inside_the_declared_domain(fitted, small, name):
    columns, _ = small
    model, _ = fitted[name]
    out = model.sample(2000, seed=5)
    assert list(out.columns) == COLUMNS and len(out) == 2000
    for spec in columns:
        values = out[spec.name]
        assert values.notna().all()
        if spec.is_numeric:
            assert values.min() >= spec.bounds[0] and values.max() <= spec.bounds[1]
        else:
            assert set(values.unique()) <= set(spec.categories)


def test_sample_keeps_the_strongest_dependence(fitted):
    """Relationship 'Husband' implies sex 'Male' in the data; the model learned it."""
    out = fitted["aim"][0].sample(3000, seed=0)
    husbands = out[out["relationship"] == "Husband"]
    assert len(husbands) > 100 and (husbands["sex"] == "Male").mean() > 0.9


@pytest.mark.parametrize("name", ["mst", "aim"])
def test_save_load_sample_is_reproducible(fitted, tmp_path, name):
    model, _ = fitted[name]
    model.save(tmp_path / name, metadata={"privacy": {"rho": 1.0}})
    assert not list((tmp_path / name).glob("*.pkl"))
    loaded = load_generator(tmp_path / name)
    first = loaded.sample(500, seed=11)
    pd.testing.assert_frame_equal(first, load_generator(tmp_path / name).sample(500, seed=11))
    pd.testing.assert_frame_equal(first, model.sample(500, seed=11))
    assert not first.equals(loaded.sample(500, seed=12))


def test_a_seed_repeats_a_fit_only_under_the_test_only_replay_switch(small, fitted):
    """The same seed gives other noisy measurements (the noise is secret); only the test-only
    replay switch repeats a fit."""
    from synth_pipeline.privacy.secret_random import replayable_for_tests

    columns, frame = small
    config = SynthesisConfig(generator="mst", epsilon=2.0, delta=1e-5, seed=3)
    plan = plan_training(config, len(frame), columns=columns)

    def fit():
        return generator_class("mst")(TableCodec.from_schema(columns)).fit(frame, config=config, plan=plan)

    assert fit().columns[0].weights != fitted["mst"][0].columns[0].weights
    with replayable_for_tests(3):
        first = fit()
    with replayable_for_tests(3):
        second = fit()
    assert first.columns[0].weights == second.columns[0].weights


def test_compression_merges_rare_cells_and_never_decodes_other():
    codec = TableCodec.from_schema([ColumnSpec("c", "categorical", categories=("a", "b", "c"))])
    # cells: a, b, c, __other__; b, c and __other__ fall under the threshold.
    (col,) = cells.compress(codec, [np.array([50.0, 2.0, -1.0, 0.5])], threshold=10.0)
    assert col.mapping == (0, 1, 1, 1)
    out = cells.decode(np.array([[1]] * 400), codec, [col], np.random.default_rng(0))
    assert set(out["c"]) == {"b"}  # weight of c is clipped to 0, __other__ is never emitted


def test_wide_declared_domain_is_refused_with_a_pointer_to_the_pii_scan():
    spec = ColumnSpec("customer_code", "categorical", categories=tuple(f"k{i}" for i in range(5000)))
    model = generator_class("aim")(TableCodec.from_schema([spec, ColumnSpec("x", "boolean")]))
    with pytest.raises(cells.DomainTooLargeError, match="direct_identifier"):
        model.check()


def test_model_size_cap_is_a_clear_error_not_an_out_of_memory():
    specs = [ColumnSpec(f"c{i}", "categorical", categories=tuple(str(k) for k in range(900))) for i in range(3)]
    model = generator_class("mst")(TableCodec.from_schema(specs), max_model_size_mb=0.001)
    with pytest.raises(cells.DomainTooLargeError, match="MB cap"):
        model.check()


def test_validation_asks_for_declared_domains_and_rdp(schema):
    from synth_pipeline.privacy.config import DatasetFacts

    facts = DatasetFacts(n_rows=5000, n_columns=3)
    open_numeric = ColumnSpec("income_amount", "float")
    result = check_fields(SynthesisConfig(generator="aim", epsilon=1.0), facts,
                      columns=[open_numeric, schema.column("sex"), schema.column("age")])
    assert not result.is_valid and any("declare them for ['income_amount']" in e for e in result.errors)
    result = check_fields(SynthesisConfig(generator="mst", epsilon=1.0, accountant="pld"), facts,
                      columns=[schema.column("sex"), schema.column("age")])
    assert any("use 'rdp'" in e for e in result.errors)
    ok = check_fields(SynthesisConfig(generator="mst", epsilon=1.0), facts, columns=[schema.column("sex"),
                                                                               schema.column("age")])
    assert ok.is_valid and ok.plan["rho"] > 0 and ok.plan["steps"] == 0


def test_recommendation_picks_aim_where_it_wins(schema, sample_frame):
    from synth_pipeline.chain.configuring import resolve_config
    from synth_pipeline.privacy.config import DatasetFacts
    from synth_pipeline.privacy.recommendation import recommended_generator
    from synth_pipeline.profiling import profile_dataset

    profile = profile_dataset(sample_frame, schema)
    assert resolve_config(profile, schema, epsilon=1.0)[0].generator == "aim"
    assert resolve_config(profile, schema, epsilon=8.0)[0].generator == "dp-tvae"
    assert resolve_config(profile, schema, epsilon=1.0, generator="mst")[0].generator == "mst"
    wide = DatasetFacts(n_rows=10_000, n_columns=40, n_numeric=10, n_categorical=30)
    assert recommended_generator(wide, 1.0) == "mst"
    assert recommended_generator(DatasetFacts(10_000, 10, 2, 8, n_open=1), 1.0) == "dp-tvae"
    assert recommended_generator(DatasetFacts(10_000, 10, 8, 2), 1.0) == "dp-tvae"  # mostly numeric


def test_numpy_variable_elimination_matches_mbi_on_a_loopy_model():
    from mbi import CliqueVector, Domain, Factor, marginal_oracles

    from synth_pipeline.synthesizers.marginal.model import eliminate

    domain = Domain(["a", "b", "c", "d"], [3, 4, 2, 5])
    rng = np.random.default_rng(0)
    cliques = [("a", "b"), ("b", "c"), ("c", "d"), ("a", "d")]  # a cycle: not a tree
    potentials = [(cl, rng.normal(size=domain.project(cl).shape) * 3) for cl in cliques]
    vector = CliqueVector(domain, cliques, {cl: Factor(domain.project(cl), v) for cl, v in potentials})
    for query in [("a", "c"), ("b", "d"), ("a",), ("b", "c")]:
        expected = np.asarray(marginal_oracles.variable_elimination(vector, query, 1.0).datavector(flatten=False))
        np.testing.assert_allclose(eliminate(potentials, query, domain), expected, atol=1e-12)


def test_replace_one_doubles_the_sensitivities_and_still_spends_exactly_rho(small):
    """n declared public: a replaced row moves two cells of a count (L2 √2) and a score by
    2Δ; the mechanisms calibrate to that and the measured spend is still the planned ρ."""
    columns, frame = small
    config = SynthesisConfig(generator="mst", epsilon=2.0, delta=1e-5)
    sigmas = {}
    for relation in ("add-remove", "replace-one"):
        plan = plan_training(config, len(frame), columns=columns, relation=relation)
        model = generator_class("mst")(TableCodec.from_schema(columns)).fit(frame, config=config, plan=plan)
        assert model.training_summary["rho_spent"] == pytest.approx(plan.rho)
        sigmas[relation] = model.training_summary["noise_stddevs"][0]
    assert sigmas["replace-one"] == pytest.approx(math.sqrt(2) * sigmas["add-remove"])
    budget = ZcdpBudget(1.0, replace_one=True)
    budget.gaussian(np.zeros(3), sigma=budget.sigma_for(0.25), rng=np.random.default_rng(0), what="x")
    assert budget.spent == pytest.approx(0.25)
