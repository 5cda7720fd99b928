"""The shared frame of MST and AIM (synth_pipeline.synthesizers.marginal.model): the ρ they
spend adds up to the plan, decoding stays in the declared domain, saved models sample
reproducibly, model sizes past the cap are refused, and variable elimination matches mbi."""

import math

import numpy as np
import pandas as pd
import pytest

from synth_pipeline.privacy.config import SynthesisConfig, plan_training
from synth_pipeline.privacy.zcdp import ZcdpBudget
from synth_pipeline.schema import ColumnSpec
from synth_pipeline.synthesizers import generator_class, load_generator
from synth_pipeline.synthesizers.marginal import cells
from synth_pipeline.synthesizers.transforms import TableCodec
from synth_pipeline_tests.helpers import MARGINAL_TEST_COLUMNS as COLUMNS


@pytest.mark.integration
@pytest.mark.parametrize("name", ["mst", "aim"])
def test_noise_scales_add_up_to_the_charged_rho(fitted, name):
    model, plan = fitted[name]
    spends = model.spends
    total = sum(1 / (2 * s["sigma"] ** 2) for s in spends if s["mechanism"] == "gaussian") + \
        sum(s["epsilon"] ** 2 / 8 for s in spends if s["mechanism"] == "exponential")
    assert total == pytest.approx(plan.rho, rel=1e-9)
    assert model.training_summary["rho_spent"] == pytest.approx(plan.rho, rel=1e-9)
    assert model.training_summary["gaussian_measurements"] >= len(COLUMNS) + 1


@pytest.mark.integration
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


@pytest.mark.integration
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


@pytest.mark.integration
def test_a_model_saved_by_the_mbi_engine_still_loads(fitted, tmp_path):
    """Models saved before the numpy engine name their columns "c<j>"; they load and sample
    as the same distribution."""
    import json

    model, _ = fitted["aim"]
    model.save(tmp_path / "m", metadata={})
    meta_path = tmp_path / "m" / "model.json"
    meta = json.loads(meta_path.read_text())
    gm = meta["graphical_model"]
    gm["cliques"] = [[f"c{j}" for j in cl] for cl in gm["cliques"]]
    gm["attributes"] = [f"c{j}" for j in range(len(gm["shape"]))]
    del gm["engine"]
    meta_path.write_text(json.dumps(meta))
    pd.testing.assert_frame_equal(load_generator(tmp_path / "m").sample(300, seed=4), model.sample(300, seed=4))


@pytest.mark.integration
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


def test_model_size_cap_is_a_clear_error_not_an_out_of_memory():
    specs = [ColumnSpec(f"c{i}", "categorical", categories=tuple(str(k) for k in range(900))) for i in range(3)]
    model = generator_class("mst")(TableCodec.from_schema(specs), max_model_size_mb=0.001)
    with pytest.raises(cells.DomainTooLargeError, match="MB cap"):
        model.check()


def test_numpy_variable_elimination_matches_mbi_on_a_loopy_model(mbi):
    from synth_pipeline.synthesizers.marginal.model import eliminate

    CliqueVector, Domain, Factor, marginal_oracles = mbi.CliqueVector, mbi.Domain, mbi.Factor, mbi.marginal_oracles

    domain = Domain(["a", "b", "c", "d"], [3, 4, 2, 5])
    rng = np.random.default_rng(0)
    cliques = [("a", "b"), ("b", "c"), ("c", "d"), ("a", "d")]  # a cycle: not a tree
    potentials = [(cl, rng.normal(size=domain.project(cl).shape) * 3) for cl in cliques]
    vector = CliqueVector(domain, cliques, {cl: Factor(domain.project(cl), v) for cl, v in potentials})
    for query in [("a", "c"), ("b", "d"), ("a",), ("b", "c")]:
        expected = np.asarray(marginal_oracles.variable_elimination(vector, query, 1.0).datavector(flatten=False))
        np.testing.assert_allclose(eliminate(potentials, query, domain), expected, atol=1e-12)


@pytest.mark.integration
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
