"""The four generators on tiny data: fit and sample on CPU, save without pickles, reload
reproducibly."""

import pytest

from synth_pipeline.privacy.config import SynthesisConfig
from synth_pipeline.privacy.ledger import PrivacyLedger
from synth_pipeline.synthesizers import load_generator

pytestmark = pytest.mark.integration

GENERATORS = ["dp-tvae", "tvae", "dp-ctgan", "ctgan"]


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
