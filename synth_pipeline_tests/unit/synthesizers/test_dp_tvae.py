"""DP-TVAE: the training path clips each row's gradient to the bound."""

import pytest
import torch

from synth_pipeline.privacy.config import SynthesisConfig
from synth_pipeline.synthesizers.transforms import TableCodec


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


@pytest.mark.parametrize("mode", ["ghost", "hooks"])
def test_dp_tvae_clips_each_persons_summed_gradient_to_the_bound(schema, mode, monkeypatch):
    """With a person unit, adding or removing all k rows of one person moves the clipped
    gradient sum by at most C (clipping each row instead would allow k·C: the person's rows
    here point the same way)."""
    import numpy as np

    from synth_pipeline.privacy.config import TrainingPlan
    from synth_pipeline.synthesizers import training
    from synth_pipeline.synthesizers.dp_tvae import DPTVAE, _ELBOCriterion

    monkeypatch.setattr(torch, "randn_like", torch.zeros_like)  # the same latent draws with and without the person
    clip, k = 0.25, 3
    codec = TableCodec.from_schema(schema.modelled_columns)
    model = DPTVAE(codec, hidden=16, latent=4)
    config = SynthesisConfig(batch_size=2, max_grad_norm=clip)
    plan = TrainingPlan(sample_rate=0.2, steps_per_epoch=5, steps=5, delta=1e-5, noise_multiplier=0.0,
                        privacy_unit="pid", rows_per_unit=k)
    with pytest.raises(ValueError, match="pass each row's person"):
        training.prepare(model.model, torch.optim.SGD(model.model.parameters(), lr=0.1), torch.zeros(10, codec.width),
                         config=config, plan=plan, private=True, grad_sample_mode=mode, criterion=_ELBOCriterion(model))
    prepared = training.prepare(model.model, torch.optim.SGD(model.model.parameters(), lr=0.1),
                                torch.zeros(10, codec.width), config=config, plan=plan, private=True,
                                grad_sample_mode=mode, criterion=_ELBOCriterion(model), units=np.arange(10) % 5)
    assert len(prepared.loader.dataset) == 5  # the Poisson coins are per person
    criterion = prepared.criterion or _ELBOCriterion(model)

    def clipped_sum(rows, mask):
        prepared.optimizer.zero_grad(set_to_none=True)
        criterion(prepared.module(rows), (rows, mask)).backward()
        if mode == "hooks":
            prepared.optimizer.clip_and_accumulate()
            return torch.cat([p.summed_grad.flatten() for p in prepared.module.parameters()])
        return torch.cat([p.grad.flatten() for p in prepared.module.parameters()])

    gen = torch.Generator().manual_seed(2)
    others = torch.rand(3, k, codec.width, generator=gen)
    person = (torch.rand(1, 1, codec.width, generator=gen) * 40).repeat(1, k, 1)  # k alike rows, large gradients
    mask = torch.tensor([[1.0, 1.0, 0.0], [1.0, 0.0, 0.0], [1.0, 1.0, 1.0], [1.0, 1.0, 1.0]])
    with_person = clipped_sum(torch.cat([others, person]), mask)
    without = clipped_sum(others, mask[:3])
    difference = (with_person - without).norm().item()
    assert 0.5 * clip < difference <= clip * (1 + 1e-5)
    # padded slots carry no gradient: a padded row's values change nothing
    noisy_padding = others.clone()
    noisy_padding[0, 2] = 1e3
    assert torch.allclose(clipped_sum(noisy_padding, mask[:3]), without, atol=1e-6)
