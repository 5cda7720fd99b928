"""DP-CTGAN: one real row moves the critic's clipped gradient sum by at most the clipping
norm, conditions come from DP frequencies, packs are refused under DP."""

import pytest
import torch

from synth_pipeline.privacy.config import SynthesisConfig
from synth_pipeline.privacy.ledger import PrivacyLedger
from synth_pipeline.synthesizers import generator_class
from synth_pipeline.synthesizers.transforms import TableCodec


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


@pytest.mark.integration
def test_dp_ctgan_conditions_come_from_released_frequencies(tiny_train, schema, tmp_path):
    import json

    from synth_pipeline.chain import training

    config = SynthesisConfig(generator="dp-ctgan", epsilon=3.0, epochs=1, batch_size=40)
    ledger = PrivacyLedger(tmp_path / "l.duckdb", default_budget_epsilon=10, default_budget_delta=1e-4)
    result = training.train_model(train=tiny_train, schema=schema, config=config, ledger=ledger,
                                    run_key="k", model_dir=tmp_path / "model")
    meta = json.loads((tmp_path / "model" / "model.json").read_text())
    # Categorical columns and discrete numbers (education_num's 16 values) condition the generator.
    discrete = [c.name for c in schema.modelled_columns if c.type == "categorical" or c.discrete_numbers]
    assert "education_num" in discrete
    assert set(meta["condition_frequencies"]) == set(discrete)
    assert meta["condition_frequencies"] == {k: v["frequencies"] for k, v in result["dp_statistics"].items()}
    assert "critic" in meta["architecture"]["note"]
    assert set(ledger.history()[0]["params"]) >= {"preprocessing_noise_multiplier", "noise_multiplier"}


def test_dp_ctgan_refuses_packs_under_dp(schema):
    codec = TableCodec.from_schema(schema.modelled_columns)
    with pytest.raises(ValueError, match="pac = 1"):
        generator_class("dp-ctgan")(codec, pac=10)
    assert generator_class("ctgan")(codec).pac == 10


@pytest.mark.parametrize("mode", ["ghost", "hooks"])
def test_one_person_moves_the_critic_gradient_sum_by_at_most_the_clipping_norm(mode):
    """A person of k rows is one sample of the critic's batch: its rows' losses are summed,
    then clipped together to C."""
    import numpy as np

    from synth_pipeline.privacy.config import TrainingPlan
    from synth_pipeline.synthesizers import training
    from synth_pipeline.synthesizers.dp_ctgan import _Critic, _PersonBCE

    clip, width, k = 0.5, 6, 4
    torch.manual_seed(0)
    critic = _Critic(width, 16, pac=1)
    for layer in critic.net:
        if isinstance(layer, torch.nn.Dropout):
            layer.p = 0.0
    plan = TrainingPlan(sample_rate=0.25, steps_per_epoch=4, steps=4, delta=1e-5, noise_multiplier=0.0,
                        privacy_unit="pid", rows_per_unit=k)
    prepared = training.prepare(critic, torch.optim.SGD(critic.parameters(), lr=0.1), torch.zeros(20, width),
                                config=SynthesisConfig(batch_size=5, max_grad_norm=clip), plan=plan, private=True,
                                grad_sample_mode=mode, criterion=_PersonBCE(), units=np.arange(20) // 4)
    criterion = prepared.criterion or _PersonBCE()
    gen = torch.Generator().manual_seed(1)
    real = torch.randn(6, k, width, generator=gen) * 50
    real[-1] = real[-1, :1]  # the last person's k rows alike: row clipping would let it move the sum by k·C
    fake = torch.randn(5, k, width, generator=gen) * 50

    def clipped_sum(persons):
        prepared.optimizer.zero_grad(set_to_none=True)
        logits = prepared.module(torch.cat([persons, fake])).squeeze(-1)
        labels = torch.cat([torch.ones(len(persons), k), torch.zeros(len(fake), k)])
        criterion(logits, (labels, torch.ones(len(persons) + len(fake), k))).backward()
        if mode == "hooks":
            prepared.optimizer.clip_and_accumulate()
            return torch.cat([p.summed_grad.flatten() for p in prepared.module.parameters()])
        return torch.cat([p.grad.flatten() for p in prepared.module.parameters()])

    difference = (clipped_sum(real) - clipped_sum(real[:-1])).norm().item()
    assert 0.5 * clip < difference <= clip * (1 + 1e-5)


def test_an_empty_poisson_batch_of_persons_still_takes_its_step(schema):
    """With few persons against a large public bound, many Poisson batches are empty: the step
    must still run (the accountant counted it; the charge is already committed)."""
    import numpy as np
    import pandas as pd

    from synth_pipeline.privacy.config import TrainingPlan

    codec = TableCodec.from_schema(schema.modelled_columns)
    model = generator_class("dp-ctgan")(codec, noise=8, hidden=16, critic_hidden=16)
    frame = pd.DataFrame({c.name: [None] * 6 for c in schema.modelled_columns})
    for c in schema.modelled_columns:
        frame[c.name] = ([c.value_set[0]] * 6 if c.value_set else [c.bounds[0]] * 6)
    plan = TrainingPlan(sample_rate=1e-9, steps_per_epoch=3, steps=3, delta=1e-5, noise_multiplier=1.0,
                        privacy_unit="pid", rows_per_unit=2)
    frequencies = {c.name: {v: 1.0 / len(c.cell_labels) for v in c.cell_labels}
                   for c in schema.modelled_columns if c.cell_labels}
    model.fit(frame, config=SynthesisConfig(generator="dp-ctgan", epochs=1, batch_size=4), plan=plan,
              frequencies=frequencies, units=np.array([0, 0, 1, 1, 2, 2]))
    assert model.training_summary["steps"] == 3
