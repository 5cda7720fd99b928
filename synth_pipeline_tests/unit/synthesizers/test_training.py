"""The shared DP-SGD schedule (synth_pipeline.synthesizers.training): every Poisson batch,
even an empty one, is a noisy step."""

import pytest

from synth_pipeline.privacy.config import SynthesisConfig, plan_training

pytestmark = pytest.mark.integration


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
