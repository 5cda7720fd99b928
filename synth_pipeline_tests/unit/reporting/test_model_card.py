"""The model card (synth_pipeline.reporting.model_card), on hand-made release facts."""

import copy

import pytest

from synth_pipeline.reporting import model_card
from synth_pipeline_tests.helpers.reporting import AUDIT, CONFIG, MODEL, PROFILE


def test_model_card_lists_reads_budget_split_rng_and_uses():
    with_pre = copy.deepcopy(MODEL)
    with_pre["privacy"]["preprocessing"] = {"numeric": ["hr_per_week"], "categorical": ["occupation"],
                                            "noise_std": 20.0, "threshold_delta": 1e-7, "marginals": []}
    card = model_card.build_model_card(profile=PROFILE, config=CONFIG, model=with_pre, audit=AUDIT,
                                       source={"drop_file": "drop.csv", "drop_sha256": "ab"}, partition_key="drop.csv",
                                       run_id="run-1")
    split = card["privacy"]["budget_split"]
    assert split["preprocessing"]["columns"] == ["hr_per_week", "occupation"]
    assert 0 < split["preprocessing"]["epsilon_standalone"] and 0 < split["training"]["epsilon_standalone"]
    steps = [r["step"] for r in card["raw_data_reads"]]
    assert "dp_model" in steps and "compliance_report plots" in steps
    assert card["privacy"]["secure_rng"]["used"] is False
    assert card["privacy"]["unit"] and card["privacy"]["neighbouring_relation"]
    assert card["intended_uses"] and card["out_of_scope_uses"]
    assert card["audit"]["other_metrics"]["detection.auc"] == 0.61  # unknown sections walked generically
    text = model_card.render_markdown(card)
    for heading in ("## Data", "### Budget split", "## Every read of the raw data", "## Intended uses"):
        assert heading in text


def test_model_card_says_which_domains_were_declared_and_what_the_bought_ones_cost():
    from synth_pipeline.privacy.preprocessing import PreprocessingPlan, plan_domain_discovery
    from synth_pipeline.schema import ColumnSpec

    columns = [ColumnSpec("age", "integer"), ColumnSpec("occupation", "categorical"),
               ColumnSpec("sex", "categorical", categories=("F", "M")), ColumnSpec("smoker", "boolean")]
    pre = plan_domain_discovery(columns, rho=0.05, delta=1e-6)
    model = copy.deepcopy(MODEL)
    model["privacy"].update(preprocessing=pre.as_dict(), mechanism="AIM", model_rho=0.045)
    profile = {**PROFILE, "modelled_columns": [c.name for c in columns],
               "columns": [{"name": c.name, "type": c.type} for c in columns]}
    card = model_card.build_model_card(profile=profile, config=CONFIG, model=model, audit=AUDIT)
    domains = {d["column"]: d for d in card["privacy"]["domains"]}
    assert domains["age"]["domain"] == "bought with DP (bounds)"
    assert domains["occupation"]["domain"] == "bought with DP (categories)"
    assert domains["sex"]["domain"] == "declared in the public schema" and domains["sex"]["cost"] is None
    assert domains["smoker"]["domain"] == "declared (its type)"
    # The bought columns' costs add up to the release's ρ and δ.
    total = domains["age"]["cost"]["rho"] + domains["occupation"]["cost"]["rho"]
    assert total == pytest.approx(PreprocessingPlan(**pre.as_dict()).rho, rel=1e-12)
    assert domains["occupation"]["cost"]["delta"] == pre.threshold_delta and domains["age"]["cost"]["delta"] == 0
    assert "| age | bought with DP (bounds) | ρ" in model_card.render_markdown(card)


def test_model_card_states_the_data_following_bins_and_their_cost():
    model = copy.deepcopy(MODEL)
    model["training"] = {"binning": {"rho": 0.004, "mechanism": "Gaussian hierarchical histogram",
                                     "columns": {"age": {"bins": 12, "decode_pieces": 30, "levels": 6, "sigma": 41.5}}}}
    card = model_card.build_model_card(profile=PROFILE, config=CONFIG, model=model, audit=AUDIT)
    assert card["privacy"]["numeric_bins"]["rho"] == 0.004
    text = model_card.render_markdown(card)
    assert "### Data-following numeric bins (aim, mst)" in text and "| age | 12 | 30 | 6 | 41.5 |" in text
    plain = copy.deepcopy(MODEL)
    plain["training"] = {}
    assert "numeric bins" not in model_card.render_markdown(
        model_card.build_model_card(profile=PROFILE, config=CONFIG, model=plain, audit=AUDIT))
