"""The release decision: a release is staged only when every gate passed and the generator is DP
(publishing it is governance's: unit/governance/test_releases.py)."""

import json

import pandas as pd
import pytest

from synth_pipeline.evaluation.gates import AuditPolicy, evaluate_gates
from synth_pipeline.evaluation.release import INTERNAL_DIR, RELEASE_DIR, STAGED_DIR, ReleaseRefused, stage_release


def _audit(**values) -> dict:
    metrics = {"tstr": {"auc_ratio": values.get("ratio", 0.9)},
               "dcr": {"dcr_share": 0.5, "exact_match_share": values.get("copies", 0.0), "nndr_median": 0.9}}
    policy = AuditPolicy(**{f: (0.0 if f.startswith("min_") else 1.0) for f in AuditPolicy.__dataclass_fields__
                            if f not in ("min_tstr_auc_ratio", "max_exact_match_share")})
    gates = [g.as_dict() for g in evaluate_gates(metrics, policy)]
    for g in gates:  # the sections not given here: pass them, so each test isolates one gate
        if g["metric"] not in ("tstr_auc_ratio", "exact_match_share"):
            g.update(passed=True, value=0.0)
    return {**metrics, "gates": gates, "passed": all(g["passed"] for g in gates), "note": "not DP"}


ROWS = pd.DataFrame({"age": [30, 40], "sex": pd.array(["Female", "Male"], dtype="string")})
DOCS = {"model_card": {"document": "model card"}}


def write_release(rows, audit, **kwargs):
    return stage_release(rows, audit, public_documents=DOCS, **kwargs)


def test_every_gate_passed_stages_the_release_inside_the_internal_folder(tmp_path):
    staged = write_release(ROWS, _audit(), generator="dp-tvae", is_dp=True, folder=tmp_path)
    assert staged == tmp_path / INTERNAL_DIR / STAGED_DIR  # not release/: publishing waits for governance
    assert pd.read_csv(staged / "synthetic.csv").shape == (2, 2)
    assert pd.read_parquet(staged / "synthetic.parquet").shape == (2, 2)
    assert json.loads((staged / "public_documents.json").read_text(encoding="utf-8")) == DOCS
    assert not (tmp_path / RELEASE_DIR).exists()
    decision = json.loads((tmp_path / INTERNAL_DIR / "release_decision.json").read_text(encoding="utf-8"))
    assert decision["released"] and "copy_ceiling" in [g["gate"] for g in decision["gates"]]


def test_a_blocked_model_is_never_released_by_a_later_audit(tmp_path):
    """The decision is the model's first audit's: re-auditing under a relaxed policy (or a
    lucky holdout) does not release it; a new release needs a new, charged fit."""
    with pytest.raises(ReleaseRefused):
        write_release(ROWS, _audit(copies=0.2), generator="dp-tvae", is_dp=True, folder=tmp_path)
    with pytest.raises(ReleaseRefused, match="a re-audit never releases it"):
        write_release(ROWS, _audit(), generator="dp-tvae", is_dp=True, folder=tmp_path)
    assert not (tmp_path / RELEASE_DIR).exists() and not (tmp_path / INTERNAL_DIR / STAGED_DIR).exists()


@pytest.mark.parametrize("audit, is_dp, expected", [
    (_audit(copies=0.2), True, ["copy_ceiling", "exact_match_share = 0.2", "≤ 0.01"]),
    (_audit(ratio=0.5, copies=0.2), True, ["tstr_auc_ratio = 0.5", "≥ 0.8", "exact_match_share = 0.2"]),
    (_audit(), False, ["dp_guarantee", "NOT differentially private"]),
    ({"gates": []}, True, ["no audit gate was evaluated"]),
])
def test_a_failing_gate_writes_nothing_and_says_which_metric_value_and_threshold(tmp_path, audit, is_dp, expected):
    with pytest.raises(ReleaseRefused) as info:
        write_release(ROWS, audit, generator="tvae" if not is_dp else "dp-tvae", is_dp=is_dp, folder=tmp_path)
    for text in expected:
        assert text in str(info.value)
    assert not (tmp_path / RELEASE_DIR).exists() and not (tmp_path / INTERNAL_DIR / STAGED_DIR).exists()
