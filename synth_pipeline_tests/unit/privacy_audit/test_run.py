"""The whole audit on a small table (synth_pipeline.privacy_audit.run): a broken mechanism
fails the gate, a correct one passes; the result holds no values and the audit's fit
leaves nothing behind."""

import json
import tempfile
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from synth_pipeline.privacy.config import SynthesisConfig
from synth_pipeline.privacy.secret_random import replayable_for_tests
from synth_pipeline.privacy_audit import audit_gate, make_canaries, run_privacy_audit

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture
def audit_schema(schema):
    """The slices here hold at most 500 rows: a tight public bound, so that each planned
    epoch is one pass over them (the audit plans with max_rows, as a release does)."""
    return replace(schema, max_rows=500)


# Small table, many passes: each row is seen 20 times with a weight of 1/25 of its batch.
SMALL = dict(generator="dp-tvae", epsilon=0.5, delta=1e-5, epochs=20, batch_size=25, learning_rate=1e-2)


@pytest.mark.integration
def test_a_broken_mechanism_fails_the_gate_and_a_correct_one_passes(audit_schema, sample_frame):
    train = sample_frame.head(500)
    config = SynthesisConfig(**SMALL)
    broken = run_privacy_audit(train=train, schema=audit_schema, config=config, auditor="white-box",
                               plan_hook=lambda plan: replace(plan, noise_multiplier=0.0))  # claims ε=0.5, adds no noise
    assert broken["canaries"] == 100 and broken["claimed_epsilon"] == 0.5
    assert broken["empirical_epsilon_lower_bound"] > 0.5
    assert not broken["gate"]["passed"] and "exceeds the claimed" in broken["gate"]["message"]
    with replayable_for_tests(0):  # a fixed draw: the verdict of a correct mechanism is not left to luck
        correct = run_privacy_audit(train=train, schema=audit_schema, config=config, auditor="white-box")
    assert correct["noise_multiplier"] > 1 and correct["gate"]["passed"]
    assert correct["empirical_epsilon_lower_bound"] <= 0.5


@pytest.mark.integration
@pytest.mark.parametrize("generator", ["dp-tvae", "dp-ctgan"])
def test_gradient_canaries_catch_a_missing_noise_and_pass_the_real_mechanism(audit_schema, sample_frame, generator):
    train = sample_frame.head(400)
    config = SynthesisConfig(**{**SMALL, "generator": generator, "epochs": 4, "epsilon": 1.0})
    broken = run_privacy_audit(train=train, schema=audit_schema, config=config, auditor="gradient",
                               plan_hook=lambda plan: replace(plan, noise_multiplier=0.0))
    assert not broken["gate"]["passed"] and broken["empirical_epsilon_lower_bound"] > 1.0
    with replayable_for_tests(0):  # a fixed draw: the verdict of a correct mechanism is not left to luck
        correct = run_privacy_audit(train=train, schema=audit_schema, config=config, auditor="gradient")
    assert correct["gate"]["passed"] and correct["empirical_epsilon_lower_bound"] <= 1.0
    assert correct["canaries_inserted"] < correct["canaries"] and correct["noise_multiplier"] > 0


@pytest.mark.integration
def test_gradient_canaries_give_a_twin_a_large_empirical_epsilon(audit_schema, sample_frame):
    twin = run_privacy_audit(train=sample_frame.head(400), schema=audit_schema, auditor="gradient",
                             config=SynthesisConfig(generator="tvae", epochs=4, batch_size=25))
    assert twin["empirical_epsilon_lower_bound"] > 1.0 and not twin["gate"]["passed"]


def test_gradient_canaries_refuse_the_marginal_generators(audit_schema, sample_frame):
    with pytest.raises(ValueError, match="black-box"):
        run_privacy_audit(train=sample_frame.head(400), schema=audit_schema, auditor="gradient",
                          config=SynthesisConfig(generator="mst", epsilon=1.0))


@pytest.mark.integration
def test_black_box_audit_of_a_twin_keeps_no_values_and_deletes_its_fit(audit_schema, sample_frame, tmp_path, monkeypatch):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    train = sample_frame.head(300)
    result = run_privacy_audit(train=train, schema=audit_schema, canaries=40, auditor="black-box",
                               config=SynthesisConfig(generator="tvae", epochs=2, batch_size=50))
    assert result["claimed_epsilon"] is None and not result["gate"]["passed"]  # a twin claims no ε
    assert result["canaries"] == 40 and result["synthetic_rows"] == 300 and result["internal_non_dp"]
    assert 0 <= result["correct"] <= result["guesses"] <= 40
    assert "not DP" in result["note"] or "non-DP" in result["note"]
    assert not list(tmp_path.iterdir())  # model and synthetic rows gone
    text = json.dumps(result)
    canaries = make_canaries(audit_schema, 40, seed=0)
    names = [c.name for c in audit_schema.modelled_columns if c.type == "categorical"]
    private = {str(v) for v in train[names].to_numpy().ravel()} | {str(v) for v in canaries[names].to_numpy().ravel()}
    assert not [v for v in private if f'"{v}"' in text]


MARGINAL_COLUMNS = ["age", "education", "marital", "sex", "income"]


@pytest.mark.integration
@pytest.mark.parametrize("generator", ["mst", "aim"])
def test_measurement_canaries_catch_missing_noise_and_pass_the_real_mechanism(audit_schema, sample_frame,
                                                                             generator, monkeypatch):
    """The default audit of the marginal generators has teeth: with the Gaussian noise taken
    out of the measurements it bounds ε far above the claim; the real mechanism passes."""
    from synth_pipeline.privacy.zcdp import ZcdpBudget
    from synth_pipeline.privacy_audit import default_auditor

    schema = replace(audit_schema, columns=tuple(c for c in audit_schema.columns
                                                 if c.name in MARGINAL_COLUMNS or c.is_direct_identifier))
    train = sample_frame.head(500)
    config = SynthesisConfig(generator=generator, epsilon=1.0, delta=1e-5)
    assert default_auditor(generator) == "measurement"
    with replayable_for_tests(0):  # a fixed draw: the verdict of a correct mechanism is not left to luck
        correct = run_privacy_audit(train=train, schema=schema, config=config, canaries=100)
    assert correct["auditor"] == "measurement" and correct["gate"]["passed"]
    assert correct["empirical_epsilon_lower_bound"] <= 1.0
    monkeypatch.setattr(ZcdpBudget, "add_noise", staticmethod(lambda values, *, sigma, rng: np.asarray(
        values, dtype=float)))
    broken = run_privacy_audit(train=train, schema=schema, config=config, canaries=100)
    assert not broken["gate"]["passed"] and broken["empirical_epsilon_lower_bound"] > 1.0


@pytest.mark.integration
def test_the_default_auditor_of_dp_sgd_is_the_gradient_canaries(audit_schema, sample_frame):
    from synth_pipeline.privacy_audit import default_auditor

    assert {g: default_auditor(g) for g in ("dp-tvae", "dp-ctgan", "tvae", "ctgan")} == dict.fromkeys(
        ("dp-tvae", "dp-ctgan", "tvae", "ctgan"), "gradient")
    twin = run_privacy_audit(train=sample_frame.head(400), schema=audit_schema,
                             config=SynthesisConfig(generator="ctgan", epochs=4, batch_size=25))
    assert twin["auditor"] == "gradient" and twin["empirical_epsilon_lower_bound"] > 1.0


def test_gate_passes_a_bound_under_the_claim_and_never_a_non_dp_twin():
    assert audit_gate(claimed_epsilon=3.0, lower_bound=0.4, generator="dp-tvae")[0]
    passed, message = audit_gate(claimed_epsilon=1.0, lower_bound=2.5, generator="dp-tvae")
    assert not passed and "exceeds the claimed" in message
    assert not audit_gate(claimed_epsilon=None, lower_bound=0.0, generator="tvae")[0]


def test_the_audit_logs_its_phases_and_no_count(audit_schema, sample_frame, caplog):
    """Fit, scoring and bound, each started and done with its time; no count of the rows or
    of the canaries (both derive from the private n)."""
    import logging
    import re

    schema = replace(audit_schema, columns=tuple(c for c in audit_schema.columns
                                                 if c.name in MARGINAL_COLUMNS[:3] or c.is_direct_identifier))
    caplog.set_level(logging.INFO, logger="synth_pipeline.privacy_audit")
    run_privacy_audit(train=sample_frame.head(300), schema=schema, canaries=40,
                      config=SynthesisConfig(generator="mst", epsilon=1.0, delta=1e-5))
    lines = [r.getMessage() for r in caplog.records if r.name.startswith("synth_pipeline.privacy_audit")]
    phases = [re.sub(r" in \d+\.\d s$", "", line) for line in lines[1:]]
    assert phases == ["privacy audit 1/3: fit of mst with canaries started",
                      "privacy audit 1/3: fit of mst with canaries done", "privacy audit 2/3: measurement scoring started", "privacy audit 2/3: measurement scoring done",
                      "privacy audit 3/3: ε lower bounds started", "privacy audit 3/3: ε lower bounds done"]
    assert not [line for line in lines if re.search(r"(?<![\d.])(40|300|3\d\d)(?![\d.])", line)]


def _panel(audit_schema, sample_frame, rows: int, k: int = 3):
    """The sample as a panel: persons of k rows, named by a `pid` direct identifier."""
    from synth_pipeline.schema import ColumnSpec

    frame = pd.concat([sample_frame] * (1 + rows // len(sample_frame)), ignore_index=True).head(rows)
    frame = frame.assign(pid=[f"p{i // k}" for i in range(rows)])
    schema = replace(audit_schema, columns=audit_schema.columns + (ColumnSpec("pid", "string",
                                                                              ("direct_identifier",)),),
                     privacy_unit="pid", max_rows_per_unit=k, max_units=rows // k, max_rows=rows)
    return frame, schema


@pytest.mark.integration
def test_measurement_canary_persons_catch_noise_calibrated_to_one_row(audit_schema, sample_frame):
    """With a person unit the canaries are persons of k rows: MST calibrated to k passes;
    the same MST calibrated to one row (persons of k rows protected only at about k·ε) fails."""
    frame, schema = _panel(audit_schema, sample_frame, 10_000, k=10)
    schema = replace(schema, columns=tuple(c for c in schema.columns
                                           if c.name in MARGINAL_COLUMNS or c.is_direct_identifier))
    config = SynthesisConfig(generator="mst", epsilon=1.0, delta=1e-5)
    with replayable_for_tests(0):
        correct = run_privacy_audit(train=frame, schema=schema, config=config, canaries=200)
    assert correct["gate"]["passed"] and correct["privacy_unit"].startswith("one person")
    inserted_rows = correct["audit_rows"] - 10_000
    assert inserted_rows > 0 and inserted_rows % 10 == 0  # whole canary persons of k = 10 rows
    # ε per row at the claim is about k·ε per person: 200 canary persons bound it above the claim
    with replayable_for_tests(0):  # a fixed draw: the verdict is not left to luck either way
        broken = run_privacy_audit(train=frame, schema=schema, config=config, canaries=200,
                                   plan_hook=lambda plan: replace(plan, rows_per_unit=1))
    assert not broken["gate"]["passed"] and broken["empirical_epsilon_lower_bound"] > 1.0


@pytest.mark.integration
def test_gradient_canaries_audit_dp_sgd_over_persons(audit_schema, sample_frame):
    frame, schema = _panel(audit_schema, sample_frame, 600)
    config = SynthesisConfig(**{**SMALL, "epochs": 4, "epsilon": 1.0})
    with replayable_for_tests(0):
        correct = run_privacy_audit(train=frame, schema=schema, config=config, auditor="gradient", canaries=40)
    assert correct["gate"]["passed"] and correct["empirical_epsilon_lower_bound"] <= 1.0
    broken = run_privacy_audit(train=frame, schema=schema, config=config, auditor="gradient", canaries=40,
                               plan_hook=lambda plan: replace(plan, noise_multiplier=0.0))
    assert not broken["gate"]["passed"]
