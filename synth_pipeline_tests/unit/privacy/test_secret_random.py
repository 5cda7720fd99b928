"""The attacker of issue 13, kept in the suite: from what a release publishes (the model
card's seed, the saved model) and a second release of the same table at another ε, replay
the DP noise and take it off. Each attack recovered the exact private values when every DP
draw was seeded from ``config.seed``; with secret randomness it must recover nothing better
than the DP noise allows. A second family: two fits with the same inputs and seed differ.

Each test also runs its attack on a fit made under the test-only replay switch, where the
noise IS replayable, and checks that the attack then succeeds: the tests can fail.
"""

import json

import numpy as np
import pandas as pd
import pytest

from synth_pipeline.chain import training
from synth_pipeline.privacy.config import SynthesisConfig, plan_training
from synth_pipeline.privacy.ledger import PrivacyLedger
from synth_pipeline.privacy.preprocessing import plan_preprocessing, release_statistics
from synth_pipeline.privacy.secret_random import replayable_for_tests
from synth_pipeline.schema import ColumnSpec, TableSchema
from synth_pipeline.synthesizers.transforms import TableCodec

SEED = 0  # the published seed (the default, written into model.json and the model card)

# The toy table: 300 rows, three discrete columns.
TOY = TableSchema(dataset="toy", max_rows=400, columns=(
    ColumnSpec("colour", "categorical", categories=("red", "green", "blue")),
    ColumnSpec("smoker", "boolean"),
    ColumnSpec("region", "categorical", categories=("north", "south")),
))


@pytest.fixture(scope="module")
def toy() -> pd.DataFrame:
    rng = np.random.default_rng(42)
    return pd.DataFrame({
        "colour": pd.array(rng.choice(["red", "green", "blue"], 300, p=[0.6, 0.3, 0.1]), dtype="string"),
        "smoker": pd.array(rng.choice(["true", "false"], 300), dtype="string"),
        "region": pd.array(rng.choice(["north", "south"], 300), dtype="string"),
    })


def _release(frame, tmp_path, name: str, generator: str, epsilon: float) -> dict:
    """One charged release through the pipeline's own training path, the model saved."""
    config = SynthesisConfig(generator=generator, epsilon=epsilon, delta=1e-5, seed=SEED)
    ledger = PrivacyLedger(tmp_path / "ledger.duckdb", default_budget_epsilon=100, default_budget_delta=1e-3)
    training.train_model(train=frame, schema=TOY, config=config, ledger=ledger, run_key=name,
                                    model_dir=tmp_path / name)
    return json.loads((tmp_path / name / "model.json").read_text(encoding="utf-8"))


def _one_way_weights(meta: dict) -> np.ndarray:
    """What the attacker reads: the noisy one-way counts kept as decode weights (clipped at 0)."""
    return np.concatenate([np.asarray(c["weights"]) for c in meta["compression"]])


def _true_one_ways(frame) -> np.ndarray:
    codec = TableCodec.from_schema(list(TOY.modelled_columns))
    fine = codec.encode_cells(frame)
    return np.concatenate([np.bincount(fine[:, j], minlength=c.width) for j, c in enumerate(codec.codecs)])


def _replay_from_seed(meta: dict) -> np.ndarray:
    """The issue's attack: regenerate default_rng(seed).normal(0, σ) in the order the one-way
    counts were measured and subtract it."""
    sigma = meta["training"]["noise_stddevs"][0]
    weights = _one_way_weights(meta)
    return weights - np.random.default_rng(meta["seed"]).normal(0.0, sigma, size=weights.size)


@pytest.mark.integration
@pytest.mark.parametrize("generator", ["mst", "aim"])
def test_the_published_seed_does_not_replay_the_marginal_noise(generator, toy, tmp_path):
    truth = _true_one_ways(toy)
    meta = _release(toy, tmp_path, "one", generator, 1.0)
    sigma = meta["training"]["noise_stddevs"][0]
    clear = truth > 3 * sigma  # cells the clipping at 0 leaves alone
    error = np.abs(_replay_from_seed(meta) - truth)[clear]
    # about 1.1 σ: the secret noise and the attacker's own draw (0.1 σ fails about once in 10⁵ runs)
    assert error.mean() > 0.1 * sigma
    assert meta["is_dp"] is True and meta["seed"] == SEED


def test_the_seed_replay_attack_works_on_replayable_noise(toy):
    """The same attack on a fit whose noise comes from a seeded generator (the test-only
    switch, drawn here like the old code drew it): exact recovery. So the test above can fail."""
    from synth_pipeline.privacy.zcdp import ZcdpBudget

    truth = _true_one_ways(toy).astype(float)
    rng = np.random.default_rng(SEED)
    noisy = ZcdpBudget(1.0).gaussian(truth, sigma=12.0, rng=rng, what="one-ways")
    recovered = noisy - np.random.default_rng(SEED).normal(0.0, 12.0, size=truth.size)
    np.testing.assert_allclose(recovered, truth)


@pytest.mark.integration
@pytest.mark.parametrize("generator", ["mst", "aim"])
def test_two_releases_at_two_epsilons_do_not_cancel_their_noise(generator, toy, tmp_path):
    """With shared standard-normal draws, w1 = c + σ1 z and w3 = c + σ3 z give
    c = (σ3 w1 − σ1 w3) / (σ3 − σ1) exactly; with independent noise the best an attacker can
    do is the inverse-variance mean, whose error is σ* = (σ1⁻² + σ3⁻²)^(-1/2)."""
    truth = _true_one_ways(toy)
    low, high = _release(toy, tmp_path, "low", generator, 1.0), _release(toy, tmp_path, "high", generator, 3.0)
    s1, s3 = low["training"]["noise_stddevs"][0], high["training"]["noise_stddevs"][0]
    w1, w3 = _one_way_weights(low), _one_way_weights(high)
    cancelled = (s1 * w3 - s3 * w1) / (s1 - s3)
    best = (1 / s1 ** 2 + 1 / s3 ** 2) ** -0.5
    clear = truth > 3 * s1
    assert np.abs(cancelled - truth)[clear].mean() > 0.2 * best  # about 2 σ* here


@pytest.mark.integration
@pytest.mark.parametrize("generator", ["mst", "aim"])
def test_two_marginal_fits_with_the_same_seed_measure_differently(generator, toy, tmp_path):
    first, second = _release(toy, tmp_path, "a", generator, 1.0), _release(toy, tmp_path, "b", generator, 1.0)
    assert not np.array_equal(_one_way_weights(first), _one_way_weights(second))


def _dp_sgd_weights(frame, generator: str, schema: TableSchema) -> np.ndarray:
    """DP-SGD fit as the attacker would redo it with the model card's seed and config."""

    config = SynthesisConfig(generator=generator, epsilon=3.0, delta=1e-5, epochs=1, batch_size=40, seed=SEED,
                             synthetic_rows=100)
    columns = list(schema.modelled_columns)
    plan = plan_training(config, schema.max_rows, columns=columns)
    model, _, _ = training.fit_generator(frame, columns, config, plan)
    module = model.model if generator == "dp-tvae" else model.generator
    return np.concatenate([p.detach().numpy().ravel() for p in module.state_dict().values()
                           if p.dtype.is_floating_point])


@pytest.mark.integration
@pytest.mark.parametrize("generator", ["dp-tvae", "dp-ctgan"])
def test_dp_sgd_with_the_same_seed_and_data_is_not_replayed(generator, toy):
    """Seeded noise and Poisson sampling gave bit-identical weights to anyone re-running the
    fit with the model card's seed on a guessed table: a membership oracle. Now the same seed
    and data give other weights; under the replay switch they are identical (the test can
    fail)."""
    first, second = _dp_sgd_weights(toy, generator, TOY), _dp_sgd_weights(toy, generator, TOY)
    assert np.linalg.norm(first - second) > 1e-3 * np.linalg.norm(first)
    with replayable_for_tests(7):
        replayed = _dp_sgd_weights(toy, generator, TOY)
    with replayable_for_tests(7):
        again = _dp_sgd_weights(toy, generator, TOY)
    np.testing.assert_array_equal(replayed, again)


def test_dp_statistics_do_not_replay_and_two_releases_do_not_cancel(toy):
    """The DP statistics of open columns and the DP row count (published as the synthetic
    table's size): two releases at two ε with shared draws gave n exactly back."""
    toy = pd.concat([toy] * 10, ignore_index=True)  # 3,000 rows: every category clears the DP threshold
    open_columns = [ColumnSpec("colour", "categorical"), ColumnSpec("smoker", "boolean"),
                    ColumnSpec("region", "categorical", categories=("north", "south"))]
    plans = [plan_preprocessing(open_columns, epsilon=eps, delta=1e-5, count=True) for eps in (3.0, 8.0)]
    s1, s3 = plans[0].noise_std, plans[1].noise_std
    best = (1 / s1 ** 2 + 1 / s3 ** 2) ** -0.5
    errors, counts = [], set()
    for _ in range(20):  # twenty pairs of releases: exact (up to rounding) with shared draws
        (_, _, n1), (_, _, n3) = [release_statistics(toy, open_columns, plan) for plan in plans]
        errors.append(abs((s1 * n3 - s3 * n1) / (s1 - s3) - len(toy)))
        counts.add(n1)
    assert np.mean(errors) > 0.3 * best
    # The count is rounded, so two fresh draws tie about 1.6% of the time (noise std 17.5):
    # twenty draws giving one value would mean the noise is replayed.
    assert len(counts) > 1
    with replayable_for_tests(3):
        first = release_statistics(toy, open_columns, plans[0])
    with replayable_for_tests(3):
        second = release_statistics(toy, open_columns, plans[0])
    assert first[1:] == second[1:]


@pytest.mark.integration
def test_fits_under_the_replay_switch_are_marked_not_dp_and_never_released(toy, tmp_path):
    from synth_pipeline.evaluation.release import refusal

    with replayable_for_tests(1):
        config = SynthesisConfig(generator="mst", epsilon=1.0, delta=1e-5)
        ledger = PrivacyLedger(tmp_path / "ledger.duckdb", default_budget_epsilon=10, default_budget_delta=1e-3)
        result = training.train_model(train=toy, schema=TOY, config=config, ledger=ledger, run_key="replay",
                                        model_dir=tmp_path / "m")
    meta = json.loads((tmp_path / "m" / "model.json").read_text(encoding="utf-8"))
    assert result["is_dp"] is False and meta["is_dp"] is False
    assert "NOT differentially private" in result["privacy"]["randomness"]
    assert "dp_guarantee" in refusal({"gates": [{"gate": "g", "passed": True, "message": ""}]},
                                     generator="mst", is_dp=result["is_dp"])


def test_a_config_asking_for_seeded_noise_points_to_the_test_only_switch():
    from synth_pipeline.privacy.secret_random import ReproducibleDPRequested

    with pytest.raises(ReproducibleDPRequested, match="replayable_for_tests"):
        SynthesisConfig.from_dict({"generator": "aim", "noise_seed": 3})


def test_the_secret_source_is_not_a_seeded_stream():
    from synth_pipeline.privacy.secret_random import secret_rng

    a, b = secret_rng().normal(0, 1, size=1000), secret_rng().normal(0, 1, size=1000)
    assert not np.array_equal(a, b)
    assert abs(a.mean()) < 0.2 and 0.85 < a.std() < 1.15  # N(0, 1): the four-draw sum over two
    with replayable_for_tests(0):
        c = secret_rng().normal(0, 1, size=5)
    with replayable_for_tests(0):
        assert np.array_equal(c, secret_rng().normal(0, 1, size=5))


def test_a_draw_never_overflows_the_chacha20_block_counter(monkeypatch):
    """The nonce's first 32 bits are ChaCha20's block counter: drawn at random, a counter near
    2**32 left a few blocks of keystream and a large draw failed mid-training. The worst
    case an OS source can return (all 0xFF bytes) must still give a full draw."""
    from synth_pipeline.privacy import secret_random

    monkeypatch.setattr(secret_random.os, "urandom", lambda n: b"\xff" * n)
    words = secret_random._secret_words(100_000)  # 12,500 blocks of 64 bytes
    assert words.shape == (100_000,) and len(np.unique(words)) > 99_000
