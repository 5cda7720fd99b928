"""Unit tests of synth_pipeline.evaluation: DCR / copy detection, TSTR utility, release gates.

The audit is computed on private data and is not DP (invariant 4); these tests check that the
metrics tell a copying generator and a structure-free generator apart from real data.
"""

from __future__ import annotations

from dataclasses import fields

import numpy as np
import pandas as pd
import pytest
import yaml
from threadpoolctl import threadpool_limits

from synth_pipeline_tests.conftest import fixed_split
from synth_pipeline.evaluation.audit import run_audit
from synth_pipeline.evaluation.features import distance_matrix, model_frame
from synth_pipeline.evaluation.gates import (
    GATES,
    AuditPolicy,
    GateResult,
    PolicyError,
    evaluate_gates,
    load_policy,
    policy_from_mapping,
)
from synth_pipeline.evaluation.privacy_risk import dcr
from synth_pipeline.evaluation.utility import tstr
from synth_pipeline.schema import ColumnSpec, parse_schema
from synth_pipeline_tests.conftest import ROOT

POLICY = ROOT / "data" / "release_policy.yaml"


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    # HistGradientBoosting's OpenMP threads thrash on a busy 2-core machine (a 0.1 s fit took
    # 100 s here under load); one thread keeps the fits fast and deterministic.
    with threadpool_limits(limits=1):
        yield


@pytest.fixture(scope="module")
def halves(sample_frame):
    """Equal-sized real train and holdout (600 rows each)."""
    return fixed_split(sample_frame, holdout_fraction=0.5)


def _independent_marginals(frame: pd.DataFrame, seed: int = 0) -> pd.DataFrame:
    """Each column resampled on its own from the real training marginal: no joint structure."""
    rng = np.random.default_rng(seed)
    return pd.DataFrame({
        name: frame[name].iloc[rng.integers(0, len(frame), size=len(frame))].reset_index(drop=True)
        for name in frame.columns
    })


# -- DCR and copies ---------------------------------------------------------------------------


def test_copied_training_rows_fail_the_copy_ceiling(halves, schema):
    train, holdout = halves
    synthetic = train.sample(frac=1.0, random_state=1).reset_index(drop=True)  # a shuffled copy
    risk = dcr(real_train=train, holdout=holdout, synthetic=synthetic, schema=schema)
    assert risk["exact_match_share"] > 0.9
    assert risk["dcr_share"] > 0.5
    assert risk["dcr_share"] > 0.9
    assert risk["median_dcr_train"] == 0.0 < risk["median_dcr_holdout"]
    gates = {g.gate: g for g in evaluate_gates({"dcr": risk}, AuditPolicy())}
    assert not gates["copy_ceiling"].passed
    assert not gates["dcr_ceiling"].passed
    assert "exact_match_share" in gates["copy_ceiling"].message and "failed" in gates["copy_ceiling"].message


def test_unseen_real_rows_score_about_one_half(sample_frame, schema):
    """Rows the 'generator' never saw are as close to train as to holdout: DCR share ≈ 0.5."""
    train, rest = fixed_split(sample_frame, holdout_fraction=2 / 3)
    holdout, unseen = fixed_split(rest, holdout_fraction=0.5)
    risk = dcr(real_train=train, holdout=holdout, synthetic=unseen, schema=schema)
    assert 0.35 < risk["dcr_share"] < 0.65
    assert risk["exact_match_share"] < 0.01
    assert risk["reference_rows"] == min(len(train), len(holdout))
    assert set(risk) >= {"dcr_share", "exact_match_share", "nndr_median", "median_dcr_train", "median_dcr_holdout"}


def test_dcr_is_deterministic_for_a_seed(halves, schema):
    train, holdout = halves
    synthetic = _independent_marginals(train)
    assert dcr(real_train=train, holdout=holdout, synthetic=synthetic, schema=schema, seed=3) == \
        dcr(real_train=train, holdout=holdout, synthetic=synthetic, schema=schema, seed=3)


def test_dcr_needs_rows(halves, schema):
    train, holdout = halves
    with pytest.raises(ValueError, match="DCR needs"):
        dcr(real_train=train, holdout=holdout.head(1), synthetic=train, schema=schema)
    with pytest.raises(ValueError, match="DCR needs"):
        dcr(real_train=train, holdout=holdout, synthetic=train.head(0), schema=schema)


def test_dcr_reports_aggregates_only(halves, schema):
    train, holdout = halves
    risk = dcr(real_train=train, holdout=holdout, synthetic=train.head(50), schema=schema)
    numbers = [x for v in risk.values() for x in (v if isinstance(v, list) else [v])]
    assert all(isinstance(x, (int, float)) for x in numbers)
    assert risk["dcr_share_ci"][0] <= risk["dcr_share"] <= risk["dcr_share_ci"][1]


# -- features -------------------------------------------------------------------------------


def test_distance_matrix_uses_declared_scales():
    columns = [ColumnSpec("age", "integer", bounds=(0.0, 100.0)),
               ColumnSpec("colour", "categorical", categories=("red", "blue"))]
    frame = pd.DataFrame({"age": [0, 100, 50, 50, 250], "colour": ["red", "red", "red", "blue", "green"]})
    x = distance_matrix(frame, columns)
    assert x.shape == (5, 1 + 3)  # scaled age + one-hot over declared categories and an 'unknown' slot
    assert np.linalg.norm(x[0] - x[1]) == pytest.approx(1.0)  # the whole declared range is 1
    assert np.linalg.norm(x[2] - x[3]) == pytest.approx(1.0)  # a category mismatch adds 1
    assert x[4, 0] == 1.0  # clipped to the declared bound
    assert x[4, 3] > 0  # an undeclared category goes to the unknown slot


def test_model_frame_types_columns_from_schema(sample_frame, schema):
    frame = model_frame(sample_frame.head(20), schema.modelled_columns)
    assert list(frame.columns) == [c.name for c in schema.modelled_columns]
    assert frame["age"].dtype == "float64"
    assert isinstance(frame["race"].dtype, pd.CategoricalDtype)
    assert list(frame["race"].cat.categories) == list(schema.column("race").categories)


# -- TSTR utility ---------------------------------------------------------------------------


def test_independent_marginals_have_lower_tstr_than_real(halves, schema):
    train, holdout = halves
    result = tstr(real_train=train, holdout=holdout, synthetic=_independent_marginals(train), schema=schema)
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


# -- gates ----------------------------------------------------------------------------------


def test_gates_with_missing_metrics_fail_with_a_message():
    gates = evaluate_gates({}, AuditPolicy())
    assert [g.gate for g in gates] == [spec.gate for spec in GATES]
    assert {"utility_floor", "dcr_ceiling", "copy_ceiling", "membership_inference_ceiling"} <= {g.gate for g in gates}
    for gate in gates:
        assert not gate.passed and gate.value is None
        assert gate.metric in gate.message and "not computed" in gate.message


def test_gate_with_one_missing_metric():
    metrics = {"tstr": {"auc_ratio": 0.95}, "dcr": {"dcr_share": 0.5, "dcr_share_ci": [0.49, 0.51]}}
    gates = {g.gate: g for g in evaluate_gates(metrics, AuditPolicy())}
    assert gates["utility_floor"].passed and gates["dcr_ceiling"].passed
    assert not gates["copy_ceiling"].passed and "exact_match_share" in gates["copy_ceiling"].message


def test_a_skipped_section_passes_its_gates_and_an_errored_one_fails_saying_why():
    metrics = {"tstr": {"skipped": "the schema declares no label column"},
               "membership": {"error": "membership inference needs at least 2 holdout rows"}}
    gates = {g.gate: g for g in evaluate_gates(metrics, AuditPolicy())}
    assert gates["utility_floor"].passed and "does not apply" in gates["utility_floor"].message
    assert not gates["membership_inference_ceiling"].passed
    assert "needs at least 2 holdout rows" in gates["membership_inference_ceiling"].message


@pytest.mark.parametrize("ratio, dcr_share, copies, passed", [
    (0.8, 0.6, 0.01, (True, True, True)),  # thresholds themselves pass
    (0.79, 0.61, 0.011, (False, False, False)),
    (1.0, 0.0, 0.0, (True, True, True)),
])
def test_gate_thresholds(ratio, dcr_share, copies, passed):
    metrics = {"tstr": {"auc_ratio": ratio}, "dcr": {"dcr_share": dcr_share, "dcr_share_ci": [0.0, dcr_share],
                                                     "exact_match_share": copies}}
    gates = {g.gate: g for g in evaluate_gates(metrics, AuditPolicy())}
    chosen = [gates[name] for name in ("utility_floor", "dcr_ceiling", "copy_ceiling")]
    assert tuple(g.passed for g in chosen) == passed
    for gate in chosen:
        assert ("passed" if gate.passed else "failed") in gate.message
        assert f"{gate.threshold:.4g}" in gate.message and f"{gate.value:.4g}" in gate.message
        assert isinstance(gate, GateResult) and gate.as_dict()["gate"] == gate.gate


@pytest.mark.parametrize("risk, upper, passed", [(0.05, 0.09, True), (0.05, 0.12, False), (0.09, 0.1, True)])
def test_an_attack_ceiling_compares_the_upper_end_of_its_interval(risk, upper, passed):
    metrics = {"singling_out": {"risk": risk, "ci": [0.0, upper]}}
    gate = next(g for g in evaluate_gates(metrics, AuditPolicy()) if g.gate == "singling_out_ceiling")
    assert gate.passed is passed and gate.value == risk and gate.compared == upper
    assert f"upper 95% bound {upper:.4g}" in gate.message


def test_an_attack_ceiling_without_an_interval_cannot_pass():
    gate = next(g for g in evaluate_gates({"linkability": {"risk": 0.0}}, AuditPolicy())
                if g.gate == "linkability_ceiling")
    assert not gate.passed and "no confidence interval" in gate.message


def test_the_policy_file_states_the_side_each_gate_compares(tmp_path):
    from synth_pipeline.evaluation.gates import PolicyError, compared_sides, load_policy

    text = POLICY.read_text(encoding="utf-8")
    assert yaml.safe_load(text)["compared"] == compared_sides()
    wrong = tmp_path / "policy.yaml"
    wrong.write_text(text.replace("max_singling_out_risk: upper_bound", "max_singling_out_risk: point"), "utf-8")
    with pytest.raises(PolicyError, match="max_singling_out_risk"):
        load_policy(wrong)


def test_policy_thresholds_are_used():
    strict = AuditPolicy(min_tstr_auc_ratio=0.99, max_dcr_share=0.4, max_exact_match_share=0.0)
    metrics = {"tstr": {"auc_ratio": 0.95}, "dcr": {"dcr_share": 0.5, "exact_match_share": 0.001}}
    gates = {g.gate: g for g in evaluate_gates(metrics, strict)}
    assert not any(gates[name].passed for name in ("utility_floor", "dcr_ceiling", "copy_ceiling"))


def test_the_policy_file_in_the_repository_holds_every_threshold_with_the_default_values():
    raw = yaml.safe_load(POLICY.read_text(encoding="utf-8"))["thresholds"]
    assert set(raw) == {f.name for f in fields(AuditPolicy)}  # a threshold per metric, no more
    assert load_policy(POLICY) == AuditPolicy()
    assert {spec.threshold for spec in GATES} == set(raw)  # each threshold has its gate


@pytest.mark.parametrize("content, expected", [
    ("thresholds: {max_membership_auc: 0.55}", None),
    ("thresholds: {max_magic: 1}", "unknown threshold"),
    ("thresholds: {max_membership_auc: high}", "must be a finite number"),
    ("thresholds: [1, 2]", "must be a mapping"),
    ("thresholds: {max_membership_auc: .nan}", "must be a finite number"),
])
def test_policy_file_is_validated(tmp_path, content, expected):
    path = tmp_path / "policy.yaml"
    path.write_text(content, encoding="utf-8")
    if expected is None:
        assert load_policy(path).max_membership_auc == 0.55
        assert load_policy(path).max_dcr_share == AuditPolicy().max_dcr_share
    else:
        with pytest.raises(PolicyError, match=expected):
            load_policy(path)


def test_overrides_apply_over_a_base_policy():
    base = AuditPolicy(max_dcr_share=0.55)
    policy = policy_from_mapping({"min_tstr_auc_ratio": 0.0}, base=base)
    assert policy.min_tstr_auc_ratio == 0.0 and policy.max_dcr_share == 0.55


# -- the audit as a whole -------------------------------------------------------------------


def test_run_audit_on_a_copy_fails_and_is_marked_not_dp(halves, schema):
    train, holdout = halves
    result = run_audit(real_train=train, holdout=holdout, synthetic=train.copy(), schema=schema,
                       policy=AuditPolicy())
    assert result["dp"] is False and "not differentially private" in result["note"]
    assert result["passed"] is False
    gates = {g["gate"]: g for g in result["gates"]}
    assert not gates["copy_ceiling"]["passed"] and gates["utility_floor"]["passed"]


# -- real bugs, documented ------------------------------------------------------------------


def test_copy_share_is_not_diluted_by_a_small_holdout(sample_frame, schema):
    train, holdout = fixed_split(sample_frame, holdout_fraction=0.2)
    risk = dcr(real_train=train, holdout=holdout, synthetic=train.copy(), schema=schema)
    assert risk["exact_match_share"] > 0.9


def test_dcr_with_nullable_numeric_column():
    schema = parse_schema({"dataset": "d", "columns": [
        {"name": "x", "type": "float", "bounds": [0, 1], "nullable": True},
        {"name": "c", "type": "categorical", "categories": ["a", "b"]},
    ]})
    rng = np.random.default_rng(0)

    def frame(with_missing: bool) -> pd.DataFrame:
        x = rng.uniform(size=40)
        if with_missing:
            x[::5] = np.nan
        return pd.DataFrame({"x": x, "c": rng.choice(["a", "b"], size=40)})

    risk = dcr(real_train=frame(True), holdout=frame(True), synthetic=frame(False), schema=schema)
    assert 0 <= risk["dcr_share"] <= 1


def test_dcr_ratio_separates_copies_from_fresh_rows(sample_frame, schema):
    train, holdout = fixed_split(sample_frame, holdout_fraction=0.2)
    copies = dcr(real_train=train, holdout=holdout, synthetic=train.copy(), schema=schema)
    fresh = dcr(real_train=train, holdout=holdout, synthetic=holdout.copy(), schema=schema)
    assert copies["dcr_ratio"] < 0.1
    assert 0.7 < fresh["dcr_ratio"] < 1.3
