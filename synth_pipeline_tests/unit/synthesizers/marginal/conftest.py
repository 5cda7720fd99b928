"""Fixtures shared by the MST and AIM tests: one fit of each, made once per session."""

import pytest

from synth_pipeline.privacy.config import SynthesisConfig, plan_training
from synth_pipeline.synthesizers import generator_class
from synth_pipeline.synthesizers.transforms import TableCodec
from synth_pipeline_tests.helpers import MARGINAL_TEST_COLUMNS as COLUMNS


@pytest.fixture(scope="session")
def small(schema, sample_frame):
    columns = [schema.column(name) for name in COLUMNS]
    return columns, sample_frame[COLUMNS]


@pytest.fixture(scope="session")
def fitted(small):
    columns, frame = small
    models = {}
    for name in ("mst", "aim"):
        config = SynthesisConfig(generator=name, epsilon=2.0, delta=1e-5, seed=3)
        plan = plan_training(config, len(frame), columns=columns)
        models[name] = (generator_class(name)(TableCodec.from_schema(columns)).fit(frame, config=config, plan=plan),
                        plan)
    return models


@pytest.fixture(scope="session")
def mbi():
    """mbi, private-pgm's engine on JAX, in float64: the reference the numpy engine is checked
    against (a test dependency only)."""
    jax = pytest.importorskip("jax")
    jax.config.update("jax_enable_x64", True)
    return pytest.importorskip("mbi")
