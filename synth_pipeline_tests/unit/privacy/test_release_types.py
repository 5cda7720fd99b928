"""Release types: per-type caps and rolling windows on top of the dataset's budget, declared in
a budget policy file the ledger records (both ledger backends)."""

from __future__ import annotations

import pytest
import yaml

from synth_pipeline.privacy.ledger import BudgetExceededError, PrivacyLedger
from synth_pipeline.privacy.release_types import BudgetPolicyError, load_budget_policy
from synth_pipeline_tests.helpers import ROOT

SGD = {"noise_multiplier": 1.0, "sample_rate": 0.01, "steps": 100}


def _policy(tmp_path, **adult) -> str:
    path = tmp_path / "budgets.yaml"
    path.write_text(yaml.safe_dump({"datasets": {"adult": {"epsilon": 10, "delta": 1e-5, **adult}}}))
    return str(path)


def _release(ledger, key, epsilon=1.0, release_type=None):
    params = {**SGD, **({"release_type": release_type} if release_type else {})}
    return ledger.reserve(dataset="adult", run_key=key, mechanism="dp-sgd", params=params, epsilon=epsilon,
                          delta=1e-7)


def test_the_repositorys_quarterly_example_allows_four_releases_a_year(ledger_location):
    """data/budgets.yaml as documented: four quarterly releases of ε≤1 in any 365 days, the
    fifth refused without a charge, and a release older than the window no longer counts."""
    ledger = PrivacyLedger(ledger_location)
    assert ledger.apply_budget_policy(ROOT / "data" / "budgets.yaml") == ["adult"]
    with pytest.raises(BudgetExceededError, match="'quarterly' per-release cap ε=1"):
        _release(ledger, "big", epsilon=1.5, release_type="quarterly")
    for quarter in range(4):
        _release(ledger, f"q{quarter}", release_type="quarterly")
    with pytest.raises(BudgetExceededError, match="'quarterly' allows 4 release\\(s\\) over the last 365 days"):
        _release(ledger, "q4", release_type="quarterly")
    assert len(ledger.history("adult")) == 4  # refusals charged nothing
    _release(ledger, "other", release_type="ad_hoc")  # another type has its own caps
    ledger.store.run(lambda con: con.execute(
        "UPDATE charges SET created_at = created_at - INTERVAL '400 days' WHERE run_key = 'q0'"))
    _release(ledger, "q4", release_type="quarterly")


def test_a_type_caps_what_its_releases_spend_together_in_its_window(ledger_location, tmp_path):
    ledger = PrivacyLedger(ledger_location)
    ledger.apply_budget_policy(_policy(tmp_path, release_types={
        "vendor_test": {"per_release_epsilon": 0.6, "window_days": 90, "window_epsilon": 1.0}},
        default_release_type="vendor_test"))
    _release(ledger, "a", epsilon=0.6)
    with pytest.raises(BudgetExceededError, match="'vendor_test' releases may spend ε=1 over the last 90 days"):
        _release(ledger, "b", epsilon=0.6)
    # A run that names no type counts as the default, and the ledger records it so.
    assert ledger.history("adult")[0]["params"]["release_type"] == "vendor_test"


def test_runs_must_name_a_known_type_when_the_budget_has_types(ledger_location, tmp_path):
    ledger = PrivacyLedger(ledger_location)
    ledger.apply_budget_policy(_policy(tmp_path, release_types={"quarterly": {"per_release_epsilon": 1}}))
    with pytest.raises(BudgetExceededError, match="has release types \\(quarterly\\) and no default"):
        _release(ledger, "a")
    with pytest.raises(BudgetExceededError, match="'weekly' is not one of"):
        _release(ledger, "a", release_type="weekly")
    other = PrivacyLedger(ledger_location, default_budget_epsilon=5, default_budget_delta=1e-5)
    with pytest.raises(BudgetExceededError, match="declares no release types"):
        other.reserve(dataset="census", run_key="c", mechanism="dp-sgd", params={**SGD, "release_type": "x"},
                      epsilon=1.0, delta=1e-7)
    assert ledger.history() == []


def test_the_file_is_recorded_once_and_a_budget_set_by_hand_stands_until_it_changes(ledger_location, tmp_path):
    ledger = PrivacyLedger(ledger_location)
    path = _policy(tmp_path, per_release_epsilon=2)
    assert ledger.apply_budget_policy(path) == ["adult"]
    assert ledger.apply_budget_policy(path) == []
    ledger.set_budget("adult", epsilon=20, delta=1e-5, note="raised by the privacy officer")
    assert ledger.apply_budget_policy(path) == [] and ledger.budget("adult").epsilon == 20
    path = _policy(tmp_path, per_release_epsilon=2, release_types={"ad_hoc": {"per_release_epsilon": 1}},
                   default_release_type="ad_hoc")
    assert ledger.apply_budget_policy(path) == ["adult"]
    budget = ledger.budget("adult")
    assert budget.epsilon == 10 and budget.release_types.names == ["ad_hoc"]
    # set-budget keeps the release types the dataset had
    ledger.set_budget("adult", epsilon=12, delta=1e-5)
    assert ledger.budget("adult").release_types.default == "ad_hoc"


@pytest.mark.parametrize("entry, message", [
    ({"epsilon": 10}, "adult.delta must be a positive number"),
    ({"epsilon": 10, "delta": 1e-5, "release_types": {"q": {"per_release_epsilon": -1}}},
     "release_types.q.per_release_epsilon must be a positive number"),
    ({"epsilon": 10, "delta": 1e-5, "release_types": {"q": {"window_days": 30}}}, "neither window_epsilon"),
    ({"epsilon": 10, "delta": 1e-5, "release_types": {"q": {"window_releases": 1.5}}}, "whole number"),
    ({"epsilon": 10, "delta": 1e-5, "release_types": {"q": {"cap": 1}}}, "unknown key\\(s\\) \\['cap'\\]"),
    ({"epsilon": 10, "delta": 1e-5, "default_release_type": "q"}, "default_release_type 'q' is not one"),
    ({"epsilon": 10, "delta": 1e-5, "budget": 3}, "unknown key\\(s\\) \\['budget'\\]"),
])
def test_a_wrong_budget_policy_names_the_key_to_fix(tmp_path, entry, message):
    path = tmp_path / "b.yaml"
    path.write_text(yaml.safe_dump({"datasets": {"adult": entry}}))
    with pytest.raises(BudgetPolicyError, match=message):
        load_budget_policy(path)


def test_the_automatic_application_never_replaces_a_budget_set_before_it(ledger_location, tmp_path, caplog):
    """A stricter budget set by hand before the file existed stands until someone applies the
    file on purpose; a budget the ledger gave on first use is replaced."""
    ledger = PrivacyLedger(ledger_location, default_budget_epsilon=10, default_budget_delta=1e-5)
    ledger.set_budget("adult", epsilon=2, delta=1e-5, note="strict, by hand")
    path = _policy(tmp_path, release_types={"ad_hoc": {"per_release_epsilon": 1}}, default_release_type="ad_hoc")
    assert ledger.apply_budget_policy(path, over_earlier=False) == []
    assert ledger.budget("adult").epsilon == 2 and "ledger apply-budgets" in caplog.text
    assert ledger.apply_budget_policy(path) == ["adult"]  # on purpose
    assert ledger.budget("adult").epsilon == 10
    fresh = PrivacyLedger(ledger_location, default_budget_epsilon=3, default_budget_delta=1e-5)
    fresh.reserve(dataset="census", run_key="c", mechanism="dp-sgd", params=SGD, epsilon=1.0, delta=1e-7)
    census = tmp_path / "census.yaml"
    census.write_text(yaml.safe_dump({"datasets": {"census": {"epsilon": 5, "delta": 1e-5}}}))
    assert fresh.apply_budget_policy(census, over_earlier=False) == ["census"]
