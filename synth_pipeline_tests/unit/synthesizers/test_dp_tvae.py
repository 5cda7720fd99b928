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
