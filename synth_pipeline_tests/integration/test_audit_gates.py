"""A DP generator's output at ε=1 on the bundled sample passes every release gate.

How the setting was picked: MST, the fast marginal-based generator (AIM, the one
``recommend()`` picks at ε=1, is stronger but takes minutes), at ε=1 on the whole sample
(24,130 training rows, seeded 80/20 split, about 10 s of fitting): nothing was tuned
against the gates, and the thresholds are the repository's release policy as shipped.
DP-TVAE at ε=1 was used here first and proved borderline: its association retention
ranged from 0.06 to 0.22 between runs that differed only in thread scheduling (the floor
is 0.1), so it made the test depend on the machine. MST passes with margins (association
retention 0.68, TSTR/TRTR 0.89).
"""

import pytest
from threadpoolctl import threadpool_limits

from synth_pipeline.data_io import read_drop
from synth_pipeline_tests.helpers import SAMPLE, fixed_split

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def dp_release(schema):
    from dataclasses import replace

    from synth_pipeline.chain.training import fit_generator
    from synth_pipeline.privacy.secret_random import replayable_for_tests
    from synth_pipeline.privacy.config import DatasetFacts, plan_training
    from synth_pipeline.privacy.recommendation import recommend

    train, holdout = fixed_split(read_drop(SAMPLE, schema), holdout_fraction=0.2)
    columns = schema.modelled_columns
    config = replace(recommend(DatasetFacts(len(train), len(columns)), preset="balanced"),
                     generator="mst", epsilon=1.0)
    with replayable_for_tests(0):  # a fixed draw: the policy test is not left to the luck of the noise
        model, _, _ = fit_generator(train, columns, config, plan_training(config, len(train), columns=columns))
    assert model.is_dp
    return train, holdout, model.sample(len(train), seed=1)


def test_dp_generator_at_epsilon_one_passes_every_gate_of_the_release_policy(dp_release, schema):
    from synth_pipeline.defs.resources import ProjectFiles
    from synth_pipeline.evaluation.suite import evaluate_synthetic

    train, holdout, synthetic = dp_release
    with threadpool_limits(limits=1):
        metrics = evaluate_synthetic(real_train=train, holdout=holdout, synthetic=synthetic, schema=schema,
                            policy=ProjectFiles().policy())
    failed = {g["gate"]: g["message"] for g in metrics["gates"] if not g["passed"]}
    assert failed == {} and metrics["passed"] is True
    assert metrics["membership"]["auc_ci"][0] < 0.5 + 0.05  # no membership signal
