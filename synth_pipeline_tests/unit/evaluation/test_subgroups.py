"""Subgroup errors and category coverage (synth_pipeline.evaluation.subgroups): an erased
minority and lost categories are flagged."""

from __future__ import annotations

import pandas as pd
import pytest

from synth_pipeline.evaluation.subgroups import category_coverage, subgroup_errors


def test_subgroups_list_the_smallest_groups_and_flag_an_erased_minority(halves, schema):
    train, holdout = halves
    erased = train[train["occupation"] != "Protective-serv"].reset_index(drop=True)
    result = subgroup_errors(real=holdout, synthetic=erased, schema=schema)
    occupation = result["columns"]["occupation"]
    sizes = [g["real_rows"] for g in occupation["smallest_groups"]]
    assert sizes == sorted(sizes) and len(sizes) == 3
    gone = next(g for g in occupation["worst_groups"] + occupation["smallest_groups"] if g["group"] == "Protective-serv")
    assert gone["synthetic_rows"] == 0 and gone["marginal_error"] == 1.0
    before = subgroup_errors(real=holdout, synthetic=train, schema=schema)["columns"]["occupation"]
    assert occupation["missing_in_synthetic"] == before["missing_in_synthetic"] + 1
    assert set(result["columns"]) == {"occupation", "income"}  # the declared sensitive columns


def test_category_coverage_counts_categories_the_synthetic_rows_lost(halves, schema):
    train, _ = halves
    narrowed = train.copy()
    narrowed["race"] = pd.array(["White"] * len(train), dtype="string")
    result = category_coverage(train, narrowed, schema)
    seen = train["race"].nunique()
    assert result["per_column"]["race"] == pytest.approx(1 / seen) and result["min"] == result["per_column"]["race"]
    assert result["per_column"]["sex"] == 1.0
