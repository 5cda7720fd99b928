"""The comparison report of a sweep: every run listed, side by side, offline HTML with its chart."""

import json

from synth_pipeline.reporting.comparison import build_comparison, comparison_row, write_comparison
from synth_pipeline_tests.helpers.reporting import assert_offline


def release(generator: str, epsilon: float | None, *, passed: bool = True, ratio: float = 0.9) -> dict:
    is_dp = epsilon is not None
    return {"is_dp": is_dp, "release_passed": passed and is_dp,
            "privacy": {"epsilon_spent": epsilon, "delta": 1e-6 if is_dp else None},
            "audit": {"tstr": {"tstr_auc": 0.8 * ratio, "trtr_auc": 0.8, "auc_ratio": ratio},
                      "dcr": {"dcr_share": 0.5, "exact_match_share": 0.0}, "quality": {"quality_score": 0.8}},
            "gates": [{"gate": "utility_floor", "passed": passed}]}


def sweep_rows() -> list[dict]:
    return [
        comparison_row(setting={"generator": "dp-tvae", "epsilon": 1.0}, run_id="r1", success=True,
                       release_report=release("dp-tvae", 0.99, ratio=0.85),
                       privacy_report={"privacy_level": "very strong", "privacy_score": {"score": 9.0},
                                       "safety": {"risk_level": "low"}}),
        comparison_row(setting={"generator": "dp-tvae", "epsilon": 3.0}, run_id="r2", success=True,
                       release_report=release("dp-tvae", 2.99, ratio=0.93)),
        comparison_row(setting={"generator": "dp-ctgan", "epsilon": 3.0}, run_id="r3", success=False,
                       release_report=release("dp-ctgan", 2.99, passed=False, ratio=0.5)),
        comparison_row(setting={"generator": "tvae", "epsilon": 1.0}, run_id="r4", success=False,
                       release_report=release("tvae", None, ratio=0.97)),
        comparison_row(setting={"generator": "dp-tvae", "epsilon": 10.0}, run_id="r5", success=False,
                       reasons=["gate budget_available failed: budget ε=10, left ε=2.1"]),
    ]


def test_every_run_of_the_sweep_is_listed_with_its_status(tmp_path):
    comparison = build_comparison(sweep_rows(), dataset="adult", partition="drop.csv")
    statuses = {r["run_id"]: r["status"] for r in comparison["runs"]}
    assert statuses == {"r1": "released", "r2": "released", "r3": "blocked: utility_floor",
                        "r4": "not DP: never released", "r5": "stopped: gate budget_available failed: budget ε=10, "
                                                              "left ε=2.1"}
    assert comparison["best_released_by_utility"] == "dp-tvae ε=3"  # the twin scores higher but is never released
    paths = write_comparison(comparison, tmp_path)
    html = paths["html"].read_text(encoding="utf-8")
    assert assert_offline(html) == 1
    for run_id in ("r1", "r2", "r3", "r4", "r5"):
        assert run_id in html
    saved = json.loads(paths["json"].read_text(encoding="utf-8"))
    assert [r["run_id"] for r in saved["runs"]] == ["r1", "r2", "r3", "r4", "r5"]
    assert paths["chart"].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert saved["runs"][3]["epsilon"] is None and saved["runs"][0]["privacy_score"] == 9.0
