"""The audit suite as a whole: a copying generator fails the privacy gates, an independent-
columns generator fails the utility gates; every metric is seeded, aggregated, and answers
tiny or odd frames with a value or a clear error.

The audit reads private values and is not DP (invariant 4); these tests also check that no
raw value leaves it (invariant 5).
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from synth_pipeline.evaluation.attribute_inference import attribute_inference
from synth_pipeline.evaluation.suite import evaluate_synthetic
from synth_pipeline.evaluation.detection import detection
from synth_pipeline.evaluation.fidelity import association_retention, quality
from synth_pipeline.evaluation.gates import GATES, AuditPolicy
from synth_pipeline.evaluation.linkage import inference, linkability
from synth_pipeline.evaluation.membership import membership_inference
from synth_pipeline.evaluation.privacy_risk import dcr
from synth_pipeline.evaluation.singling_out import singling_out
from synth_pipeline.evaluation.subgroups import category_coverage, subgroup_errors
from synth_pipeline.evaluation.utility import tstr
from synth_pipeline.schema import parse_schema
from synth_pipeline_tests.helpers import fixed_split, independent_marginals

pytestmark = pytest.mark.usefixtures("one_openmp_thread")

PRIVACY_GATES = {"dcr_ceiling", "copy_ceiling", "nndr_floor", "membership_inference_ceiling",
                 "attribute_inference_ceiling", "singling_out_ceiling", "linkability_ceiling", "inference_ceiling"}
UTILITY_GATES = {"quality_floor", "pair_trends_floor", "association_floor", "detection_ceiling", "utility_floor",
                 "logistic_utility_floor", "category_coverage_floor", "subgroup_error_ceiling"}


def _failed(metrics: dict) -> set[str]:
    return {g["gate"] for g in metrics["gates"] if not g["passed"]}


@pytest.fixture(scope="module")
def copy_audit(halves, schema):
    train, holdout = halves
    copies = train.sample(frac=1.0, random_state=1).reset_index(drop=True)
    return evaluate_synthetic(real_train=train, holdout=holdout, synthetic=copies, schema=schema, policy=AuditPolicy())


@pytest.fixture(scope="module")
def independent_audit(halves, schema):
    train, holdout = halves
    return evaluate_synthetic(real_train=train, holdout=holdout, synthetic=independent_marginals(train), schema=schema,
                     policy=AuditPolicy())


@pytest.mark.integration
def test_a_generator_that_copies_its_training_rows_fails_every_privacy_gate(copy_audit):
    assert _failed(copy_audit) == PRIVACY_GATES  # and it is "useful": every utility gate passes
    assert copy_audit["passed"] is False
    assert copy_audit["membership"]["auc"] > 0.95 and copy_audit["membership"]["auc_ci"][0] > 0.9
    assert copy_audit["inference"]["risk"] > 0.9 and copy_audit["singling_out"]["univariate"]["risk"] > 0.5


@pytest.mark.integration
def test_a_generator_of_independent_columns_fails_the_pair_and_tstr_gates(independent_audit):
    failed = _failed(independent_audit)
    assert {"association_floor", "utility_floor", "logistic_utility_floor"} <= failed
    assert independent_audit["associations"]["retention"] < 0.05
    # It copies no row: the copy and DCR gates pass, and the membership and inference point
    # estimates sit under their ceilings. On this small table (about 750 targets per side)
    # their 95% intervals are wide, so those ceilings, which compare the upper bound, may
    # still block: the message then says it was the bound.
    assert not failed & {"copy_ceiling", "dcr_ceiling"}
    gates = {g["gate"]: g for g in independent_audit["gates"]}
    for name in ("membership_inference_ceiling", "inference_ceiling"):
        gate = gates[name]
        assert gate["value"] <= gate["threshold"] and gate["side"] == "upper 95% bound"
        assert gate["compared"] >= gate["value"]
        assert gate["passed"] or "upper 95% bound" in gate["message"]


@pytest.mark.integration
def test_a_failing_gate_names_its_metric_value_and_threshold(copy_audit):
    gate = next(g for g in copy_audit["gates"] if g["gate"] == "membership_inference_ceiling")
    assert gate["metric"] == "membership_auc" and gate["threshold"] == AuditPolicy().max_membership_auc
    assert f"{gate['value']:.4g}" in gate["message"] and "0.6" in gate["message"] and "failed" in gate["message"]
    assert [g["gate"] for g in copy_audit["gates"]] == [spec.gate for spec in GATES]


@pytest.mark.integration
def test_the_audit_is_deterministic_for_a_seed(halves, schema):
    train, holdout = halves
    synthetic = independent_marginals(train, seed=5).head(300)

    def once():
        metrics = evaluate_synthetic(real_train=train, holdout=holdout, synthetic=synthetic, schema=schema,
                            policy=AuditPolicy(), seed=3)
        metrics.pop("seconds")
        return metrics

    assert once() == once()


@pytest.mark.integration
def test_the_audit_is_json_ready_marked_not_dp_and_carries_no_raw_value(schema, sample_frame):
    frame = sample_frame.copy()
    frame["occupation"] = frame["occupation"].astype(object)
    frame.loc[frame.index[:300:7], "occupation"] = "CANARY-OCCUPATION"  # undeclared category
    frame.loc[frame.index[:300:5], "fnlwgt"] = 1234577  # a value absent from Adult
    train, holdout = fixed_split(frame, holdout_fraction=0.5)
    metrics = evaluate_synthetic(real_train=train, holdout=holdout, synthetic=train.copy(), schema=schema, policy=AuditPolicy())
    text = json.dumps(metrics)
    assert metrics["dp"] is False and "not differentially private" in metrics["note"]
    assert "CANARY" not in text and "1234577" not in text
    for name in ("full_name", "email", "ssn"):  # identifiers are never even read
        assert name not in text


# -- each metric on tiny and odd frames -----------------------------------------------------

TINY_SCHEMA = parse_schema({"dataset": "tiny", "label": "y", "positive_label": "b", "columns": [
    {"name": "x", "type": "float", "bounds": [0, 10], "nullable": True},
    {"name": "k", "type": "integer", "bounds": [0, 5]},
    {"name": "c", "type": "categorical", "categories": ["u", "v", "w"], "role": "quasi_identifier"},
    {"name": "s", "type": "categorical", "categories": ["p", "q"], "role": "sensitive"},
    {"name": "y", "type": "categorical", "categories": ["a", "b"], "role": ["label", "sensitive"]},
]})


def _tiny(rows: int, seed: int, *, nan: bool = False, one_category: bool = False, constant: bool = False,
          unseen: bool = False) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({
        "x": rng.uniform(0, 10, rows), "k": rng.integers(0, 6, rows),
        "c": pd.array(rng.choice(["u", "v", "w"], rows), dtype="string"),
        "s": pd.array(rng.choice(["p", "q"], rows), dtype="string"),
        "y": pd.array(np.where(np.arange(rows) % 2 == 0, "a", "b"), dtype="string"),
    })
    if nan:
        frame.loc[frame.index[::2], "x"] = np.nan
        frame.loc[frame.index[1::3], "c"] = pd.NA
    if one_category:
        frame["c"] = pd.array(["u"] * rows, dtype="string")
        frame["s"] = pd.array(["p"] * rows, dtype="string")
    if constant:
        frame["k"] = 3
        frame["x"] = 5.0
    if unseen:
        frame["c"] = pd.array(["never-declared"] * rows, dtype="string")
    return frame


def _every_metric(train, holdout, synthetic):
    common = {"real_train": train, "holdout": holdout, "synthetic": synthetic, "schema": TINY_SCHEMA, "seed": 0}
    return {
        "quality": lambda: quality(holdout, synthetic, TINY_SCHEMA),
        "associations": lambda: association_retention(train, synthetic, TINY_SCHEMA),
        "detection": lambda: detection(real=holdout, synthetic=synthetic, schema=TINY_SCHEMA),
        "tstr": lambda: tstr(**common),
        "coverage": lambda: category_coverage(train, synthetic, TINY_SCHEMA),
        "subgroups": lambda: subgroup_errors(real=holdout, synthetic=synthetic, schema=TINY_SCHEMA),
        "dcr": lambda: dcr(**common),
        "membership": lambda: membership_inference(**common),
        "attribute_inference": lambda: attribute_inference(**common),
        "singling_out": lambda: singling_out(**common),
        "linkability": lambda: linkability(**common),
        "inference": lambda: inference(**common),
        "audit": lambda: evaluate_synthetic(**common, policy=AuditPolicy()),
    }


def _is_number_or_none(value) -> bool:
    if isinstance(value, dict):
        return all(_is_number_or_none(v) for v in value.values())
    if isinstance(value, list):
        return all(_is_number_or_none(v) for v in value)
    return value is None or isinstance(value, (str, bool)) or (isinstance(value, (int, float)) and np.isfinite(value))


CASES = {
    "one row each": dict(rows=(1, 2, 1)),
    "one category": dict(rows=(40, 40, 40), one_category=True),
    "NaN": dict(rows=(40, 40, 40), nan=True),
    "constant columns": dict(rows=(40, 40, 40), constant=True),
    "unseen categories": dict(rows=(40, 40, 40), unseen=True),
}


@pytest.mark.parametrize("case", CASES)
def test_every_metric_on_an_edge_case_returns_values_or_a_clear_error(case):
    options = dict(CASES[case])
    n_train, n_holdout, n_synth = options.pop("rows")
    train, holdout = _tiny(n_train, 0, **options), _tiny(n_holdout, 1, **options)
    synthetic = _tiny(n_synth, 2, **options)
    for name, compute in _every_metric(train, holdout, synthetic).items():
        try:
            result = compute()
        except ValueError as exc:
            message = str(exc)
            assert "needs" in message or "one class" in message or "undefined" in message, (case, name, message)
            assert len(message) < 200 and "\n" not in message
            continue
        assert isinstance(result, dict), (case, name)
        assert _is_number_or_none({k: v for k, v in result.items() if k not in ("note", "skipped", "error")}), \
            (case, name, result)
        if name == "audit":
            assert len(result["gates"]) == len(GATES) and isinstance(result["passed"], bool)
            json.dumps(result)


def test_the_inference_attack_takes_every_row_of_each_side_up_to_its_cap():
    # Unequal sides: more members than holdout rows narrow the bound of an easily guessed
    # secret; equal sizes would throw away 250 of the 400 members here.
    train, holdout, synthetic = _tiny(400, 1), _tiny(150, 2), _tiny(300, 3)
    result = inference(real_train=train, holdout=holdout, synthetic=synthetic, schema=TINY_SCHEMA, seed=0)
    assert {c["attacks"] for c in result["columns"].values()} == {400}
    assert {c["controls"] for c in result["columns"].values()} == {150}
    capped = inference(real_train=train, holdout=holdout, synthetic=synthetic, schema=TINY_SCHEMA, seed=0,
                       max_targets=100)
    assert {(c["attacks"], c["controls"]) for c in capped["columns"].values()} == {(100, 100)}


def test_an_empty_synthetic_table_is_refused_with_a_clear_error():
    frame = _tiny(20, 0)
    with pytest.raises(ValueError, match="synthetic table has no rows"):
        evaluate_synthetic(real_train=frame, holdout=frame, synthetic=frame.head(0), schema=TINY_SCHEMA, policy=AuditPolicy())


def test_a_metric_that_cannot_run_records_why_and_fails_its_gate():
    one_row = _tiny(1, 0)
    metrics = evaluate_synthetic(real_train=one_row, holdout=_tiny(2, 1), synthetic=_tiny(1, 2), schema=TINY_SCHEMA,
                        policy=AuditPolicy())
    assert "needs" in metrics["dcr"]["error"]
    gate = next(g for g in metrics["gates"] if g["gate"] == "dcr_ceiling")
    assert not gate["passed"] and "needs" in gate["message"]
    assert metrics["passed"] is False


def test_without_label_or_sensitive_columns_those_gates_do_not_apply():
    bare = parse_schema({"dataset": "bare", "columns": [
        {"name": "x", "type": "float", "bounds": [0, 10]},
        {"name": "c", "type": "categorical", "categories": ["u", "v", "w"]}]})
    frame = _tiny(60, 0)[["x", "c"]]
    metrics = evaluate_synthetic(real_train=frame, holdout=_tiny(60, 1)[["x", "c"]], synthetic=_tiny(60, 2)[["x", "c"]],
                        schema=bare, policy=AuditPolicy())
    gates = {g["gate"]: g for g in metrics["gates"]}
    for name in ("utility_floor", "subgroup_error_ceiling", "attribute_inference_ceiling", "inference_ceiling"):
        assert gates[name]["passed"] and "does not apply" in gates[name]["message"], name


def test_a_library_error_inside_a_metric_is_recorded_without_its_message(monkeypatch):
    import synth_pipeline.evaluation.suite as audit_module

    def leaky(**kwargs):
        raise ValueError("could not convert string to float: 'CANARY-VALUE'")

    monkeypatch.setattr(audit_module, "membership_inference", leaky)
    metrics = evaluate_synthetic(real_train=_tiny(40, 0), holdout=_tiny(40, 1), synthetic=_tiny(40, 2), schema=TINY_SCHEMA,
                        policy=AuditPolicy())
    assert "CANARY" not in json.dumps(metrics)
    assert "membership could not be computed (ValueError" in metrics["membership"]["error"]
    assert not next(g for g in metrics["gates"] if g["gate"] == "membership_inference_ceiling")["passed"]


# -- the audit as a whole -------------------------------------------------------------------


@pytest.mark.integration
def test_evaluate_synthetic_on_a_copy_fails_and_is_marked_not_dp(halves, schema):
    train, holdout = halves
    result = evaluate_synthetic(real_train=train, holdout=holdout, synthetic=train.copy(), schema=schema,
                       policy=AuditPolicy())
    assert result["dp"] is False and "not differentially private" in result["note"]
    assert result["passed"] is False
    gates = {g["gate"]: g for g in result["gates"]}
    assert not gates["copy_ceiling"]["passed"] and gates["utility_floor"]["passed"]


def test_every_metric_logs_its_start_and_end_by_name_only(monkeypatch, caplog):
    """Progress of the suite: each metric's name, its number of 12 and its time; a metric
    that fails on a library error is logged as done, its message (a value) withheld."""
    import logging

    import synth_pipeline.evaluation.suite as audit_module

    def leaky(**kwargs):
        raise ValueError("could not convert string to float: 'CANARY-VALUE'")

    monkeypatch.setattr(audit_module, "membership_inference", leaky)
    caplog.set_level(logging.INFO, logger="synth_pipeline.evaluation")
    evaluate_synthetic(real_train=_tiny(40, 0), holdout=_tiny(40, 1), synthetic=_tiny(40, 2), schema=TINY_SCHEMA,
                       policy=AuditPolicy())
    lines = [r.getMessage() for r in caplog.records if getattr(r, "progress", {}).get("task") == "evaluation"]
    assert len(lines) == 24 and lines[0] == "evaluation 1/12: quality started"
    assert lines[1].startswith("evaluation 1/12: quality done in ") and lines[-1].startswith(
        "evaluation 12/12: inference done in ")
    assert any(line.startswith("evaluation 8/12: membership done in ") for line in lines)
    assert "CANARY" not in caplog.text
