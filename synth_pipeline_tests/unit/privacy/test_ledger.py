"""Unit tests of synth_pipeline.privacy.ledger.PrivacyLedger.

Reserve before any DP output, refuse without writing, never charge a run twice, count reserved
spend (crash safety), and stay correct when several processes race for one budget file.
"""

from __future__ import annotations

import logging
import multiprocessing
import queue

import pytest

from synth_pipeline.privacy.accounting import DpSgdPlan, dp_sgd_epsilon, epsilon_of
from synth_pipeline.privacy.ledger import Budget, BudgetExceededError, LedgerError, PrivacyLedger
from synth_pipeline_tests.helpers import ledger_race

GAUSS = {"mechanism": "gaussian", "params": {"noise_multiplier": 5.0}}
SGD_PARAMS = {"noise_multiplier": 1.1, "sample_rate": 0.02, "steps": 300}


@pytest.fixture(autouse=True)
def _quiet_absl():
    logging.getLogger("absl").setLevel(logging.ERROR)


@pytest.fixture
def ledger(ledger_location) -> PrivacyLedger:
    return PrivacyLedger(ledger_location)


@pytest.fixture
def basic(ledger) -> PrivacyLedger:
    ledger.set_budget("adult", epsilon=5.0, delta=1e-4, composition="basic")
    return ledger


def _reserve(ledger: PrivacyLedger, run_key: str, epsilon: float = 1.0, delta: float = 1e-6,
             dataset: str = "adult", **kw):
    spec = {**GAUSS, **kw}
    return ledger.reserve(dataset=dataset, run_key=run_key, epsilon=epsilon, delta=delta, **spec)


# -- reserve / commit / release ----------------------------------------------------------------


def test_reserve_commit_release_lifecycle(basic):
    a = _reserve(basic, "run-a", partition_key="drop-1.csv")
    b = _reserve(basic, "run-b")
    assert a.status == "reserved" and not a.reused and a.epsilon == 1.0
    basic.commit(a.event_id, note="DP output exists")
    basic.refund(b.event_id, note="failed before training")
    history = {h["run_key"]: h for h in basic.history("adult")}
    assert history["run-a"]["status"] == "committed" and history["run-a"]["partition_key"] == "drop-1.csv"
    assert history["run-b"]["status"] == "refunded"
    assert history["run-a"]["params"] == GAUSS["params"]
    spend = basic.spend("adult")
    assert spend.events == 1 and spend.basic_epsilon == 1.0 and spend.remaining_epsilon == 4.0


def test_illegal_transitions(basic):
    a = _reserve(basic, "run-a")
    basic.commit(a.event_id)
    basic.commit(a.event_id)  # idempotent
    with pytest.raises(LedgerError, match="committed"):
        basic.refund(a.event_id)  # a committed spend cannot be refunded
    b = _reserve(basic, "run-b")
    basic.refund(b.event_id)
    with pytest.raises(LedgerError, match="refunded"):
        basic.commit(b.event_id)
    with pytest.raises(LedgerError, match="no ledger event"):
        basic.commit("does-not-exist")
    assert basic.spend("adult").basic_epsilon == 1.0


def test_refused_reservation_writes_nothing_and_says_what_is_left(basic):
    for i in range(3):
        _reserve(basic, f"run-{i}", epsilon=1.5)
    before = basic.history()
    with pytest.raises(BudgetExceededError) as info:
        _reserve(basic, "too-much", epsilon=0.75)
    msg = str(info.value)
    assert "budget ε=5" in msg  # budget
    assert "spent ε=4.5" in msg  # spent
    assert "left ε=0.5" in msg  # left
    assert "asks for ε=0.75" in msg  # requested
    assert basic.history() == before
    assert basic.spend("adult").basic_epsilon == 4.5
    # what is left still fits
    assert _reserve(basic, "fits", epsilon=0.5).status == "reserved"


def test_refusal_on_delta(basic):
    with pytest.raises(BudgetExceededError, match="budget would be exceeded"):
        _reserve(basic, "big-delta", epsilon=0.1, delta=2e-4)
    assert basic.history() == []


def test_same_run_key_never_charges_twice(basic):
    first = _reserve(basic, "run-a")
    again = _reserve(basic, "run-a")
    assert again.reused and again.event_id == first.event_id
    basic.commit(first.event_id)
    third = _reserve(basic, "run-a")
    assert third.reused and third.status == "committed"
    assert len(basic.history("adult")) == 1
    assert basic.spend("adult").basic_epsilon == 1.0


def test_same_run_key_charges_again_after_release(basic):
    first = _reserve(basic, "run-a")
    basic.refund(first.event_id)
    second = _reserve(basic, "run-a")
    assert not second.reused and second.event_id != first.event_id
    assert basic.spend("adult").events == 1


def test_same_run_key_in_another_dataset_is_separate(basic):
    basic.set_budget("other", epsilon=5.0, delta=1e-4, composition="basic")
    a = _reserve(basic, "run-a")
    b = _reserve(basic, "run-a", dataset="other")
    assert a.event_id != b.event_id and not b.reused
    assert basic.spend("adult").events == 1 and basic.spend("other").events == 1


def test_released_reservations_stop_counting(basic):
    held = [_reserve(basic, f"run-{i}", epsilon=2.5) for i in range(2)]
    with pytest.raises(BudgetExceededError):
        _reserve(basic, "third", epsilon=2.5)
    basic.refund(held[0].event_id)
    assert basic.spend("adult").basic_epsilon == 2.5
    assert _reserve(basic, "third", epsilon=2.5).status == "reserved"


def test_reserved_spend_counts_after_a_crash(ledger_location):
    path = ledger_location
    first = PrivacyLedger(path)
    first.set_budget("adult", epsilon=2.0, delta=1e-4, composition="basic")
    _reserve(first, "crashed-run", epsilon=1.5)  # the process dies here: never committed nor released
    del first
    reopened = PrivacyLedger(path)
    spend = reopened.spend("adult")
    assert spend.events == 1 and spend.spent_epsilon == 1.5
    assert reopened.history("adult")[0]["status"] == "reserved"
    with pytest.raises(BudgetExceededError):
        _reserve(reopened, "next-run", epsilon=1.0)


def test_per_release_cap(ledger):
    ledger.set_budget("adult", epsilon=10.0, delta=1e-4, composition="basic", per_release_epsilon=2.0)
    with pytest.raises(BudgetExceededError) as info:
        _reserve(ledger, "greedy", epsilon=2.5)
    assert "per-release cap" in str(info.value)
    assert ledger.history() == []
    assert _reserve(ledger, "fine", epsilon=2.0).status == "reserved"


def test_latest_budget_wins(ledger):
    ledger.set_budget("adult", epsilon=1.0, delta=1e-4, composition="basic")
    ledger.set_budget("adult", epsilon=3.0, delta=1e-4, composition="basic")
    assert ledger.budget("adult") == Budget("adult", 3.0, 1e-4, "basic")
    assert _reserve(ledger, "run", epsilon=2.0).status == "reserved"


def test_no_budget_and_no_default_refuses(ledger):
    with pytest.raises(LedgerError, match="no privacy budget"):
        _reserve(ledger, "run")
    assert ledger.history() == [] and ledger.datasets() == []


@pytest.mark.parametrize("kwargs", [dict(epsilon=0, delta=1e-5), dict(epsilon=1, delta=0),
                                    dict(epsilon=1, delta=1), dict(epsilon=1, delta=1e-5, composition="fancy")])
def test_invalid_budget(ledger, kwargs):
    with pytest.raises(ValueError):
        ledger.set_budget("adult", **kwargs)
    assert ledger.budget("adult") is None


# -- composition ----------------------------------------------------------------------------


def test_tight_single_dp_sgd_event_equals_dp_sgd_epsilon(ledger):
    ledger.set_budget("adult", epsilon=10.0, delta=1e-5)  # tight composition by default
    eps = dp_sgd_epsilon(**SGD_PARAMS, delta=1e-5)
    ledger.reserve(dataset="adult", run_key="r1", mechanism="dp-sgd", params=SGD_PARAMS, epsilon=eps, delta=1e-6)
    spend = ledger.spend("adult")
    assert spend.tight_epsilon == pytest.approx(eps, rel=1e-9)
    assert spend.spent_epsilon == spend.tight_epsilon


def test_tight_uses_the_budget_delta(ledger):
    ledger.set_budget("adult", epsilon=50.0, delta=1e-7)
    ledger.reserve(dataset="adult", run_key="r1", mechanism="dp-sgd", params=SGD_PARAMS, epsilon=99.0, delta=1e-8)
    assert ledger.spend("adult").tight_epsilon == pytest.approx(dp_sgd_epsilon(**SGD_PARAMS, delta=1e-7))


def test_tight_is_at_most_basic(ledger_location):
    eps = dp_sgd_epsilon(**SGD_PARAMS, delta=1e-5)
    spends = {}
    for composition in ("tight", "basic"):
        ledger = PrivacyLedger(ledger_location)
        ledger.set_budget(f"adult-{composition}", epsilon=100.0, delta=1e-3, composition=composition)
        for i in range(4):
            ledger.reserve(dataset=f"adult-{composition}", run_key=f"r{i}", mechanism="dp-sgd", params=SGD_PARAMS,
                           epsilon=eps, delta=1e-5)
        spends[composition] = ledger.spend(f"adult-{composition}")
    tight, basic = spends["tight"], spends["basic"]
    assert tight.basic_epsilon == pytest.approx(4 * eps)
    assert tight.tight_epsilon <= tight.basic_epsilon
    expected = epsilon_of([DpSgdPlan(**SGD_PARAMS).dp_event()] * 4, delta=1e-3)
    assert tight.tight_epsilon == pytest.approx(expected)
    assert tight.spent_epsilon == tight.tight_epsilon
    assert basic.spent_epsilon == basic.basic_epsilon == pytest.approx(4 * eps)
    assert basic.spent_epsilon >= tight.spent_epsilon


def test_tight_composition_fits_more_runs_than_basic(ledger_location):
    eps = dp_sgd_epsilon(**SGD_PARAMS, delta=1e-5)
    accepted = {}
    for composition in ("tight", "basic"):
        ledger = PrivacyLedger(ledger_location)
        ledger.set_budget(f"adult-{composition}", epsilon=2.5 * eps, delta=1e-3, composition=composition)
        count = 0
        for i in range(4):
            try:
                ledger.reserve(dataset=f"adult-{composition}", run_key=f"r{i}", mechanism="dp-sgd", params=SGD_PARAMS,
                               epsilon=eps, delta=1e-5)
                count += 1
            except BudgetExceededError:
                pass
        accepted[composition] = count
    assert accepted["basic"] == 2
    assert accepted["tight"] > accepted["basic"]


def test_laplace_mechanism_is_accounted(basic):
    basic.reserve(dataset="adult", run_key="count", mechanism="laplace", params={"scale": 2.0, "sensitivity": 1.0},
                  epsilon=0.5, delta=0.0)
    spend = basic.spend("adult")
    assert spend.basic_epsilon == 0.5 and spend.basic_delta == 0.0 and spend.tight_epsilon <= 0.5


# -- read-only operations write nothing ------------------------------------------------------


def test_spend_and_check_do_not_write_a_default_budget(ledger_location):
    ledger = PrivacyLedger(ledger_location, default_budget_epsilon=3.0, default_budget_delta=1e-5)
    spend = ledger.spend("adult")
    assert spend.budget.epsilon == 3.0 and spend.spent_epsilon == 0 and spend.remaining_epsilon == 3.0
    assert ledger.check(dataset="adult", epsilon=1.0, delta=1e-6, **GAUSS) is None
    refusal = ledger.check(dataset="adult", mechanism="gaussian", params={"noise_multiplier": 0.5},
                           epsilon=4.0, delta=1e-6)
    assert refusal is not None and "left ε=3" in refusal
    assert ledger.budget("adult") is None
    assert ledger.datasets() == [] and ledger.history() == []
    # a reservation does write the default budget, once
    _reserve(ledger, "run")
    assert ledger.budget("adult") == Budget("adult", 3.0, 1e-5)
    assert ledger.datasets() == ["adult"]


def test_check_matches_reserve(basic):
    _reserve(basic, "a", epsilon=4.0)
    assert basic.check(dataset="adult", epsilon=1.0, delta=1e-6, **GAUSS) is None
    assert "exceeded" in basic.check(dataset="adult", epsilon=1.5, delta=1e-6, **GAUSS)
    assert len(basic.history()) == 1


@pytest.mark.parametrize("mechanism, params", [("exponential", {}), ("dp-sgd", {"noise_multiplier": 1.0}),
                                               ("gaussian", {})])
def test_unknown_mechanism_or_params_raise_before_writing(ledger_location, mechanism, params):
    ledger = PrivacyLedger(ledger_location, default_budget_epsilon=3.0, default_budget_delta=1e-5)
    with pytest.raises((ValueError, KeyError)):
        ledger.reserve(dataset="adult", run_key="r", mechanism=mechanism, params=params, epsilon=0.1, delta=1e-7)
    assert ledger.history() == [] and ledger.budget("adult") is None


# -- concurrency ------------------------------------------------------------------------------


@pytest.mark.integration
def test_concurrent_processes_never_overspend(ledger_location):
    """8 processes, each with its own PrivacyLedger on one file or database, race 10 reservations
    each for a basic-composition budget that holds exactly 10 of the 80."""
    processes, attempts, budget = 8, 10, 10.0
    path = ledger_location
    PrivacyLedger(path).set_budget("race", epsilon=budget, delta=1e-4, composition="basic")

    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Barrier(processes)
    results = ctx.Queue()
    workers = [ctx.Process(target=ledger_race.reserve_many, args=(str(path), w, attempts, barrier, results))
               for w in range(processes)]
    for p in workers:
        p.start()
    try:
        reports = [results.get(timeout=150) for _ in workers]
    except queue.Empty:  # pragma: no cover - a hung worker
        pytest.fail("a ledger worker did not report within the timeout")
    finally:
        for p in workers:
            p.join(timeout=30)
            if p.is_alive():  # pragma: no cover
                p.terminate()

    unexpected = [u for r in reports for u in r["unexpected"]]
    assert unexpected == [], "\n".join(unexpected)  # only BudgetExceededError is allowed
    accepted = sum(r["accepted"] for r in reports)
    refused = sum(r["refused"] for r in reports)
    assert accepted + refused == processes * attempts
    assert accepted == int(budget)  # each reservation is ε=1: exactly the maximal number fits

    ledger = PrivacyLedger(path)
    history = ledger.history("race")
    assert len(history) == accepted  # no record lost, none duplicated
    assert len({h["event_id"] for h in history}) == accepted
    assert len({h["run_key"] for h in history}) == accepted
    assert all(h["status"] == "reserved" for h in history)
    spend = ledger.spend("race")
    assert spend.basic_epsilon <= budget
    assert spend.basic_epsilon == pytest.approx(budget)
    assert spend.events == accepted
    assert all(p.exitcode == 0 for p in workers)


def test_reused_run_key_with_another_plan_is_refused(ledger_location):
    from synth_pipeline.privacy.ledger import LedgerError, PrivacyLedger

    ledger = PrivacyLedger(ledger_location, default_budget_epsilon=10, default_budget_delta=1e-5)
    params = {"noise_multiplier": 1.0, "sample_rate": 0.01, "steps": 100}
    ledger.reserve(dataset="d", run_key="r", mechanism="dp-sgd", params=params, epsilon=1.0, delta=1e-7)
    with pytest.raises(LedgerError, match="other parameters"):
        ledger.reserve(dataset="d", run_key="r", mechanism="dp-sgd", params={**params, "steps": 200},
                       epsilon=1.4, delta=1e-7)
    assert len(ledger.history("d")) == 1


def test_policy_window_counts_recent_events_and_reports_lifetime(ledger_location):
    from synth_pipeline.privacy.ledger import BudgetExceededError, PrivacyLedger

    ledger = PrivacyLedger(ledger_location)
    ledger.set_budget("d", epsilon=2.0, delta=1e-5, composition="basic", window_days=30)
    params = {"noise_multiplier": 1.0, "sample_rate": 0.01, "steps": 100}
    for key in ("a", "b"):
        ledger.reserve(dataset="d", run_key=key, mechanism="dp-sgd", params=params, epsilon=1.0, delta=1e-7)
    with pytest.raises(BudgetExceededError):
        ledger.reserve(dataset="d", run_key="c", mechanism="dp-sgd", params=params, epsilon=1.0, delta=1e-7)
    # Simulate time passing: the first event is now 40 days old.
    ledger.store.run(lambda con: con.execute(
        "UPDATE charges SET created_at = created_at - INTERVAL '40 days' WHERE run_key = 'a'"))
    ledger.reserve(dataset="d", run_key="c", mechanism="dp-sgd", params=params, epsilon=1.0, delta=1e-7)
    spend = ledger.spend("d").as_dict()
    assert spend["events"] == 2 and spend["spent_epsilon_basic"] == pytest.approx(2.0)
    assert spend["lifetime_events"] == 3 and spend["lifetime_spent_epsilon_basic"] == pytest.approx(3.0)


def test_a_held_lock_gives_a_bounded_wait_and_a_clear_error_and_writes_nothing(tmp_path):
    import fcntl

    from synth_pipeline.privacy.ledger import LedgerBusyError, PrivacyLedger

    path = tmp_path / "l.duckdb"
    ledger = PrivacyLedger(path, default_budget_epsilon=10, default_budget_delta=1e-5, lock_timeout_s=0.3)
    params = {"noise_multiplier": 1.0, "sample_rate": 0.01, "steps": 100}
    with open(str(path) + ".lock", "a+") as holder:  # another run holding the ledger
        fcntl.flock(holder, fcntl.LOCK_EX)
        with pytest.raises(LedgerBusyError, match="nothing was charged"):
            ledger.reserve(dataset="d", run_key="r", mechanism="dp-sgd", params=params, epsilon=1.0, delta=1e-7)
        fcntl.flock(holder, fcntl.LOCK_UN)
    assert ledger.history() == []
    ledger.reserve(dataset="d", run_key="r", mechanism="dp-sgd", params=params, epsilon=1.0, delta=1e-7)
    assert len(ledger.history()) == 1


def test_zcdp_events_compose_with_dp_sgd_under_rdp(ledger_location):
    import math

    from synth_pipeline.privacy.ledger import PrivacyLedger

    ledger = PrivacyLedger(ledger_location)
    ledger.set_budget("d", epsilon=10, delta=1e-6)
    ledger.reserve(dataset="d", run_key="mst", mechanism="zcdp", params={"rho": 0.1}, epsilon=3.0, delta=1e-6)
    spend = ledger.spend("d")
    # ρ-zCDP gives ε ≤ ρ + 2√(ρ ln(1/δ)); the RDP conversion is tighter than that bound.
    assert spend.tight_epsilon < 0.1 + 2 * math.sqrt(0.1 * math.log(1e6))
    assert spend.tight_epsilon == pytest.approx(2.143, abs=0.01)


def test_replace_one_releases_compose_by_addition_in_the_ledger(ledger_location):
    ledger = PrivacyLedger(ledger_location, default_budget_epsilon=5, default_budget_delta=1e-4)
    for key in ("a", "b"):
        ledger.reserve(dataset="toy", run_key=key, mechanism="approx-dp", epsilon=2.0, delta=1e-5,
                       params={"epsilon": 2.0, "delta": 1e-5, "relation": "replace-one"})
    spend = ledger.spend("toy")
    assert spend.spent_epsilon == pytest.approx(4.0) and spend.remaining_epsilon == pytest.approx(1.0)
    refusal = ledger.check(dataset="toy", mechanism="approx-dp", epsilon=2.0, delta=1e-5,
                           params={"epsilon": 2.0, "delta": 1e-5, "relation": "replace-one"})
    assert refusal is not None and "left ε=1" in refusal
