"""The four generators on tiny data: DP bounds hold, fit and sample on CPU, reload reproducibly."""

import numpy as np
import pytest
import torch

from synth_pipeline.privacy.config import SynthesisConfig, plan_training
from synth_pipeline.privacy.ledger import PrivacyLedger
from synth_pipeline.synthesizers import generator_class, load_generator
from synth_pipeline.synthesizers.transforms import TableCodec

GENERATORS = ["dp-tvae", "tvae", "dp-ctgan", "ctgan"]


def _dp_critic(width: int, clip: float, mode: str):
    """The DP-CTGAN critic through the training path, with no noise and no dropout."""
    from synth_pipeline.privacy.config import TrainingPlan
    from synth_pipeline.synthesizers import training
    from synth_pipeline.synthesizers.dp_ctgan import _Critic

    torch.manual_seed(0)
    critic = _Critic(width, 16, pac=1)
    for layer in critic.net:
        if isinstance(layer, torch.nn.Dropout):
            layer.p = 0.0
    config = SynthesisConfig(batch_size=5, max_grad_norm=clip)
    plan = TrainingPlan(sample_rate=0.25, steps_per_epoch=4, steps=4, delta=1e-5, noise_multiplier=0.0)
    prepared = training.prepare(critic, torch.optim.SGD(critic.parameters(), lr=0.1), torch.zeros(20, width),
                                config=config, plan=plan, private=True, grad_sample_mode=mode,
                                criterion=torch.nn.BCEWithLogitsLoss())
    return prepared, mode


def _clipped_sum(prepared_mode, real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
    prepared, mode = prepared_mode
    prepared.optimizer.zero_grad(set_to_none=True)
    logits = prepared.module(torch.cat([real, fake])).squeeze(1)
    labels = torch.cat([torch.ones(len(real)), torch.zeros(len(fake))])
    criterion = prepared.criterion or torch.nn.BCEWithLogitsLoss()
    criterion(logits, labels).backward()
    if mode == "hooks":
        prepared.optimizer.clip_and_accumulate()
        return torch.cat([p.summed_grad.flatten() for p in prepared.module.parameters()])
    return torch.cat([p.grad.flatten() for p in prepared.module.parameters()])


@pytest.mark.parametrize("mode", ["ghost", "hooks"])
def test_one_real_row_moves_the_critic_gradient_sum_by_at_most_the_clipping_norm(mode):
    clip, width = 0.5, 6
    critic = _dp_critic(width, clip, mode)
    gen = torch.Generator().manual_seed(1)
    real = torch.randn(8, width, generator=gen) * 50  # large inputs: every gradient gets clipped
    fake = torch.randn(8, width, generator=gen) * 50
    with_row = _clipped_sum(critic, real, fake)
    without_row = _clipped_sum(critic, real[1:], fake)
    difference = (with_row - without_row).norm().item()
    assert 0 < difference <= clip * (1 + 1e-5)
    # and the bound is tight enough to mean something: without clipping it would be far larger
    assert difference > clip * 0.5


@pytest.mark.parametrize("mode", ["ghost", "hooks"])
def test_dp_tvae_clips_each_row_to_the_bound(schema, mode):
    """The training path itself (ghost clipping by default): with no noise, one row's
    gradient has norm ≤ C, and two rows' at most 2C."""
    from synth_pipeline.privacy.config import TrainingPlan
    from synth_pipeline.synthesizers import training
    from synth_pipeline.synthesizers.dp_tvae import DPTVAE, _ELBOCriterion

    codec = TableCodec.from_schema(schema.modelled_columns)
    model = DPTVAE(codec, hidden=16, latent=4)
    config = SynthesisConfig(batch_size=2, max_grad_norm=0.25)
    plan = TrainingPlan(sample_rate=0.2, steps_per_epoch=5, steps=5, delta=1e-5, noise_multiplier=0.0)
    prepared = training.prepare(model.model, torch.optim.SGD(model.model.parameters(), lr=0.1),
                                torch.zeros(10, codec.width), config=config, plan=plan, private=True,
                                grad_sample_mode=mode, criterion=_ELBOCriterion(model))
    criterion = prepared.criterion or _ELBOCriterion(model)
    rows = torch.zeros(2, codec.width)
    rows[0, ::7] = 1.0
    rows[1, ::5] = 1.0

    def clipped_norm(batch):
        prepared.optimizer.zero_grad(set_to_none=True)
        criterion(prepared.module(batch), batch).backward()
        if mode == "hooks":
            prepared.optimizer.clip_and_accumulate()
            grads = [p.summed_grad for p in prepared.module.parameters()]
        else:
            grads = [p.grad for p in prepared.module.parameters()]
        return torch.cat([g.flatten() for g in grads]).norm().item()

    assert 0.2 < clipped_norm(rows[:1]) <= 0.25 * (1 + 1e-5)
    assert clipped_norm(rows) <= 0.5 * (1 + 1e-5)


@pytest.fixture(scope="module")
def tiny_train(sample_frame, schema):
    return sample_frame[[c.name for c in schema.modelled_columns]].head(400).reset_index(drop=True)


@pytest.mark.parametrize("name", GENERATORS)
def test_fit_sample_save_load_reproducible(name, tiny_train, schema, tmp_path):
    from synth_pipeline.chain import training

    config = SynthesisConfig(generator=name, epsilon=3.0, epochs=1, batch_size=40, seed=3)
    ledger = PrivacyLedger(tmp_path / "l.duckdb", default_budget_epsilon=10, default_budget_delta=1e-4)
    result = training.train_model(train=tiny_train, schema=schema, config=config, ledger=ledger,
                                    run_key="k", model_dir=tmp_path / "model")
    assert result["generator"] == name and result["is_dp"] == name.startswith("dp-")
    events = ledger.history()
    if result["is_dp"]:
        assert [e["status"] for e in events] == ["committed"]
        assert 0.95 * 3.0 <= result["privacy"]["epsilon_spent"] <= 3.0
    else:
        assert events == [] and result["privacy"]["epsilon_spent"] is None

    rows = training.sample_synthetic(result["model_dir"], rows=150, seed=11)
    assert len(rows) == 150 and list(rows.columns) == list(tiny_train.columns)
    for col in schema.modelled_columns:
        values = rows[col.name].dropna()
        if col.is_numeric:
            assert values.between(*col.bounds).all(), col.name
        else:
            assert set(values) <= set(col.value_set), col.name
    reloaded = load_generator(result["model_dir"])
    assert reloaded.sample(150, seed=11).equals(rows)
    assert not reloaded.sample(150, seed=12).equals(rows)
    assert not list(tmp_path.glob("model/*.pkl")) and (tmp_path / "model" / "model.json").is_file()


def test_dp_ctgan_conditions_come_from_released_frequencies(tiny_train, schema, tmp_path):
    import json

    from synth_pipeline.chain import training

    config = SynthesisConfig(generator="dp-ctgan", epsilon=3.0, epochs=1, batch_size=40)
    ledger = PrivacyLedger(tmp_path / "l.duckdb", default_budget_epsilon=10, default_budget_delta=1e-4)
    result = training.train_model(train=tiny_train, schema=schema, config=config, ledger=ledger,
                                    run_key="k", model_dir=tmp_path / "model")
    meta = json.loads((tmp_path / "model" / "model.json").read_text())
    discrete = [c.name for c in schema.modelled_columns if c.type == "categorical"]
    assert set(meta["condition_frequencies"]) == set(discrete)
    assert meta["condition_frequencies"] == {k: v["frequencies"] for k, v in result["dp_statistics"].items()}
    assert "critic" in meta["architecture"]["note"]
    assert set(ledger.history()[0]["params"]) >= {"preprocessing_noise_multiplier", "noise_multiplier"}


def test_dp_ctgan_refuses_packs_under_dp(schema):
    codec = TableCodec.from_schema(schema.modelled_columns)
    with pytest.raises(ValueError, match="pac = 1"):
        generator_class("dp-ctgan")(codec, pac=10)
    assert generator_class("ctgan")(codec).pac == 10


def test_plans_never_exceed_the_target_for_any_dp_generator(schema):
    for name in ("dp-tvae", "dp-ctgan"):
        from synth_pipeline.chain.training import ledger_request

        config = SynthesisConfig(generator=name, epsilon=1.0, epochs=3, batch_size=50)
        plan = plan_training(config, 2000, columns=schema.modelled_columns)
        epsilon = ledger_request(config, plan)["epsilon"]
        assert 0.95 <= epsilon <= 1.0, name
        assert np.isfinite(plan.noise_multiplier)


@pytest.mark.parametrize("name", ["dp-tvae", "dp-ctgan"])
def test_empty_poisson_batches_still_take_their_noisy_step(name, tiny_train, schema):
    """Batch size 1 on 120 rows: about a third of the Poisson batches are empty, and every one
    of them must still be a step (the accountant priced every step)."""
    from synth_pipeline.chain.training import fit_generator

    train = tiny_train.head(120)
    config = SynthesisConfig(generator=name, epsilon=10.0, epochs=1, batch_size=1, delta=1e-4)
    plan = plan_training(config, len(train), columns=schema.modelled_columns)
    model, _, _ = fit_generator(train, schema.modelled_columns, config, plan)
    assert model.training_summary["steps"] == plan.steps == 120
