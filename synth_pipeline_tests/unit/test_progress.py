"""Progress lines: rate-limited rounds (first, final and one per interval at INFO), phases
with their elapsed seconds, and the facts a console draws a bar from."""

import logging

import numpy as np
import pytest

from synth_pipeline.privacy.secret_random import secret_rng
from synth_pipeline.privacy.zcdp import ZcdpBudget
from synth_pipeline.progress import Rounds, phase, rho_spent


class Clock:
    def __init__(self):
        self.now = 100.0

    def __call__(self):
        return self.now


def test_rounds_log_the_first_the_final_and_one_per_interval_at_info(caplog):
    clock, log = Clock(), logging.getLogger("synth_pipeline.test")
    caplog.set_level(logging.DEBUG, logger="synth_pipeline")
    rounds = Rounds(log, "aim", every=5.0, clock=clock)
    for k in range(1, 11):
        clock.now += 1.0
        rounds.line("round %d", k, done=k / 10, final=k == 10, round=k)
    levels = [r.levelno for r in caplog.records]
    # t=1 first; t=6 five seconds later; t=10 final.
    assert [k for k, lv in enumerate(levels, start=1) if lv == logging.INFO] == [1, 6, 10]
    last = caplog.records[-1]
    assert last.getMessage() == "round 10 (10.0 s)"
    assert last.progress == {"task": "aim", "done": 1.0, "elapsed": 10.0, "final": True, "round": 10}


def test_a_phase_logs_its_start_and_end_and_a_failure(caplog):
    clock, log = Clock(), logging.getLogger("synth_pipeline.test")
    caplog.set_level(logging.INFO, logger="synth_pipeline")
    with phase(log, "evaluation", "dcr", number=2, total=4, clock=clock):
        clock.now += 2.5
    with pytest.raises(RuntimeError), phase(log, "evaluation", "membership", number=3, total=4, clock=clock):
        raise RuntimeError("boom")
    assert [r.getMessage() for r in caplog.records] == [
        "evaluation 2/4: dcr started", "evaluation 2/4: dcr done in 2.5 s",
        "evaluation 3/4: membership started", "evaluation 3/4: membership failed in 0.0 s"]
    assert [r.progress["done"] for r in caplog.records] == [0.25, 0.5, 0.5, 0.75]


def test_rho_spent_states_value_and_share():
    budget = ZcdpBudget(0.5)
    assert rho_spent(budget) == "ρ spent 0 of 0.5 (0%)"
    budget.gaussian(np.zeros(3), sigma=budget.sigma_for(0.125), rng=secret_rng(), what="a test measurement")
    assert rho_spent(budget) == "ρ spent 0.125 of 0.5 (25%)"
