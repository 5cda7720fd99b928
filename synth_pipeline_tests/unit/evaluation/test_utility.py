"""TSTR utility (synth_pipeline.evaluation.utility): a structure-free generator loses utility,
real rows keep it, odd labels are handled with a note or a clear error."""

from __future__ import annotations

import pandas as pd
import pytest

from synth_pipeline.evaluation.gates import AuditPolicy
from synth_pipeline.evaluation.utility import tstr
from synth_pipeline.schema import parse_schema
from synth_pipeline_tests.helpers import independent_marginals

pytestmark = pytest.mark.usefixtures("one_openmp_thread")


# -- TSTR utility ---------------------------------------------------------------------------


def test_independent_marginals_have_lower_tstr_than_real(halves, schema):
    train, holdout = halves
    result = tstr(real_train=train, holdout=holdout, synthetic=independent_marginals(train), schema=schema)
    assert result["label"] == "income"
    assert result["trtr_auc"] > 0.8
    assert result["tstr_auc"] < result["trtr_auc"] - 0.15
    assert result["auc_ratio"] == pytest.approx(result["tstr_auc"] / result["trtr_auc"])
    assert result["auc_ratio"] < AuditPolicy().min_tstr_auc_ratio
    assert "note" not in result


def test_real_rows_as_synthetic_keep_utility(halves, schema):
    train, holdout = halves
    result = tstr(real_train=train, holdout=holdout, synthetic=train, schema=schema)
    assert result["auc_ratio"] == pytest.approx(1.0)


def test_one_class_synthetic_label_scores_chance_with_a_note(halves, schema):
    train, holdout = halves
    synthetic = train.copy()
    synthetic["income"] = pd.Series(["<=50K"] * len(synthetic), dtype="string")
    result = tstr(real_train=train, holdout=holdout, synthetic=synthetic, schema=schema)
    assert result["tstr_auc"] == 0.5
    assert "one class" in result["note"]
    expected_accuracy = float((holdout["income"] == "<=50K").mean())
    assert result["tstr_accuracy"] == pytest.approx(expected_accuracy)


def test_tstr_without_label_is_skipped(halves):
    train, holdout = halves
    no_label = parse_schema({"dataset": "d", "columns": [{"name": "age", "type": "integer", "bounds": [17, 90]},
                                                         {"name": "sex", "type": "categorical",
                                                          "categories": ["Female", "Male"]}]})
    assert "skipped" in tstr(real_train=train, holdout=holdout, synthetic=train, schema=no_label)


def test_one_class_holdout_raises(halves, schema):
    train, holdout = halves
    one_class = holdout[holdout["income"] == "<=50K"]
    with pytest.raises(ValueError, match="one class"):
        tstr(real_train=train, holdout=one_class, synthetic=train, schema=schema)


# -- single metrics: the behaviour each is for ----------------------------------------------


def test_tstr_reports_both_models_with_auc_accuracy_and_f1(halves, schema):
    train, holdout = halves
    result = tstr(real_train=train, holdout=holdout, synthetic=train, schema=schema)
    for model in ("hist_gradient_boosting", "logistic_regression"):
        for regime in ("trtr", "tstr"):
            assert set(result["models"][model][regime]) == {"auc", "accuracy", "f1"}
        assert result["models"][model]["auc_ratio"] == pytest.approx(1.0)
    assert result["models"]["logistic_regression"]["trtr"]["auc"] > 0.8
