"""The whole chain materialized in-process; each gate blocks what is downstream of it."""

import json
import re
from pathlib import Path

import dagster as dg
import numpy as np
import pytest

from synth_pipeline_tests.helpers.project import LENIENT_POLICY, failed_checks, materialized, paths_of
from synth_pipeline_tests.helpers.reporting import assert_offline

pytestmark = pytest.mark.integration

ALL_ASSETS = {"raw_dataset", "dataset_profile", "pii_scan", "dp_config", "holdout_split", "dp_model", "synthetic_table",
              "audit_metrics", "compliance_report", "released"}
CANARY_NAME = "Zebulon Canaryfield-Quux"
CANARY_EMAIL = "zq.canary.7731@example.org"
CANARY_FNLWGT = 1234577  # inside the declared bounds, absent from Adult


def _event_text(project, result) -> str:
    return "\n".join(str(record) for record in project.instance.all_logs(result.run_id))


def _metadata_texts(project, result) -> list[str]:
    """Every Dagster metadata entry of the run (materializations and check results), as text."""
    texts = []
    for record in project.instance.all_logs(result.run_id):
        event = record.dagster_event
        if event is None:
            continue
        if event.is_step_materialization:
            texts += [f"{k}={v.value}" for k, v in event.step_materialization_data.materialization.metadata.items()]
        if event.event_type_value == "ASSET_CHECK_EVALUATION":
            data = event.asset_check_evaluation_data
            texts += [f"{k}={v.value}" for k, v in data.metadata.items()] + [data.description or ""]
    return texts


def _output_texts(folder) -> dict[str, str]:
    """The text of every output file: text files as read, PNGs' metadata chunks decoded."""
    from synth_pipeline_tests.helpers.reporting import png_text_chunks

    texts = {}
    for path in folder.rglob("*"):
        if not path.is_file():
            continue
        if path.suffix in (".json", ".md", ".html", ".csv"):
            texts[str(path)] = path.read_text(encoding="utf-8", errors="ignore")
        elif path.suffix == ".png":
            texts[str(path)] = png_text_chunks(path.read_bytes())
    return texts


def test_whole_chain_materializes_charges_once_and_leaks_no_raw_value(project, sample_frame):
    frame = sample_frame.copy()
    frame.loc[0, "full_name"] = CANARY_NAME
    frame.loc[1, "email"] = CANARY_EMAIL
    frame.loc[2, "fnlwgt"] = CANARY_FNLWGT
    key = project.drop("drop 1 ü.csv", frame)

    result = project.run(key)

    assert result.success, failed_checks(result)
    assert materialized(result) == ALL_ASSETS
    assert failed_checks(result) == {}
    history = project.ledger().history("adult")
    assert [e["status"] for e in history] == ["committed"]
    model = result.output_for_node("dp_model").as_dict()
    assert history[0]["epsilon"] == pytest.approx(model["privacy"]["epsilon_spent"])
    assert model["privacy"]["epsilon_spent"] <= 3.0

    synthetic = result.output_for_node("synthetic_table").frame
    # n is private: the table's size is a DP estimate of the training rows (about 960 here,
    # the split itself a secret coin per row), never n_train itself.
    assert model["synthetic_rows_source"] == "a DP estimate of the training rows"
    noise = model["plan"]["preprocessing"]["noise_std"]
    assert len(synthetic) == model["synthetic_rows"] and abs(len(synthetic) - 960) < 6 * noise + 6 * 14
    assert set(synthetic.columns) == set(model_columns(project))
    assert synthetic["age"].between(17, 90).all()

    report_paths = paths_of(result, "compliance_report")
    report = json.loads(open(report_paths["json"], encoding="utf-8").read())
    assert report["release_passed"] is True
    assert report["audit"]["dp"] is False
    assert report["ledger_after_release"]["events"] == 1
    assert "email" in report["data_handling"]["direct_identifiers_dropped"]

    release = project.root / "outputs"
    files = _output_texts(release)
    for name in ("release_report.html", "privacy_report.json", "compliance.json", "model_card.md", "narrative.md",
                 "correlations.png", "marginal_fnlwgt.png", "ledger.png"):
        assert any(path.endswith(name) for path in files), name
    html = next(text for path, text in files.items() if path.endswith("release_report.html"))
    assert assert_offline(html) >= 5
    narrative = json.loads(open(report_paths["narrative"], encoding="utf-8").read())
    assert narrative["run_id"] == result.run_id and narrative["partition"] == key
    whats = [e["what"] for e in narrative["entries"]]
    assert "dp_model materialized" in whats and "event committed (counted as spent)" in whats
    texts = [_event_text(project, result), *_metadata_texts(project, result), *files.values()]
    for canary in (CANARY_NAME, CANARY_EMAIL, str(CANARY_FNLWGT)):
        assert all(canary not in text for text in texts), canary
    # The orchestrator's storage holds no copy of the drop: raw_dataset is kept as a reference.
    stored = [p for p in Path(project.instance.storage_directory()).rglob("*") if p.is_file()]
    assert (project.root / "data" / "state" / "drop_references").is_dir()
    assert stored and not any(CANARY_NAME.encode() in p.read_bytes() or CANARY_EMAIL.encode() in p.read_bytes()
                              for p in stored)

    # Every gate passed: the release folder holds the synthetic rows and the public documents.
    released = paths_of(result, "released")
    assert released["csv"].endswith("release/synthetic.csv")
    manifest = json.loads(open(released["manifest"], encoding="utf-8").read())
    audit_gates = {e.check_name for e in result.get_asset_check_evaluations()
                   if e.asset_key.to_user_string() == "audit_metrics"}
    assert manifest["rows"] == len(synthetic) and set(manifest["gates_passed"]) == audit_gates
    _assert_release_is_public_only(Path(released["csv"]).parent, result.output_for_node("audit_metrics").metrics)


def _assert_release_is_public_only(release: Path, audit: dict) -> None:
    """The attacker holding the release folder: it holds the table and the public documents,
    no number computed on raw rows without DP (gate values), no hash of the drop, no plot."""
    import re

    assert {p.name for p in release.iterdir()} == {
        "synthetic.csv", "synthetic.parquet", "release.json", "model_card.json", "model_card.md",
        "privacy_report.json", "privacy_report.md", "compliance_statement.json", "compliance_statement.md", "TERMS.md"}
    texts = {p.name: p.read_text(encoding="utf-8") for p in release.iterdir() if p.suffix in (".json", ".md")}
    for name, text in texts.items():
        assert not re.search(r"\b[0-9a-f]{64}\b", text), name  # no SHA-256 / HMAC of anything
        assert "INTERNAL" not in text.replace("internal review", ""), name
        for gate in audit["gates"]:
            value = gate["value"]
            if isinstance(value, float) and len(f"{value:.6g}") > 5:  # a distinctive non-DP number
                assert f"{value:.6g}" not in text and f"{value:.4g}" not in text, (name, gate["metric"])
    card = json.loads(texts["model_card.json"])
    assert card["classification"].startswith("PUBLIC") and "non-DP function of the data" in card["release_decision"]
    assert card["randomness"]["seed_controls"].startswith("the generator's weight initialisation")
    assert "audit" not in card and "empirical_privacy_audit" not in card


def model_columns(project):
    from synth_pipeline.schema import load_schema

    return [c.name for c in load_schema(project.schema_path).modelled_columns]


def test_schema_violation_stops_the_chain_at_the_raw_data_gate_and_charges_nothing(project, sample_frame):
    frame = sample_frame.copy()
    frame["age"] = frame["age"].astype(float)
    frame.loc[5, "age"] = 250.0
    frame.loc[6, "sex"] = "Unknown"
    frame = frame.drop(columns=["race"])
    key = project.drop("bad.csv", frame)

    result = project.run(key)

    failures = failed_checks(result)
    assert set(failures) == {"raw_data_expectations"}
    message = failures["raw_data_expectations"]
    assert "'race'" in message and "'age'" in message and "'sex'" in message
    assert "250" not in message and "Unknown" not in message
    assert materialized(result) == {"raw_dataset"}
    assert project.ledger().history() == []


@pytest.mark.parametrize("content, expected", [
    ("", "empty file"),
    ("age,sex\n", "no rows"),
    ('age,sex\n1,"unterminated\n', "not parseable"),
])
def test_unreadable_drop_fails_with_a_clear_message_and_charges_nothing(project, content, expected):
    (project.incoming / "broken.csv").write_text(content, encoding="utf-8")
    project.instance.add_dynamic_partitions("data_drops", ["broken.csv"])

    result = project.run("broken.csv")

    assert not result.success
    failure = next(e for e in result.all_events if e.is_step_failure)
    assert expected in failure.event_specific_data.error.message
    assert materialized(result) == set()
    assert project.ledger().history() == []


def test_undeclared_identifier_blocks_training(project, sample_frame):
    def demote_email(raw):
        for col in raw["columns"]:
            if col["name"] == "email":
                col.pop("role")

    project.edit_schema(demote_email)
    key = project.drop("pii.csv", sample_frame)

    result = project.run(key)

    failures = failed_checks(result)
    assert set(failures) == {"no_direct_identifiers_in_training"}
    assert "'email'" in failures["no_direct_identifiers_in_training"]
    assert "dp_model" not in materialized(result) and "dp_config" not in materialized(result)
    assert project.ledger().history() == []


def test_invalid_config_blocks_training(project, sample_frame):
    key = project.drop("cfg.csv", sample_frame)

    result = project.run(key, config={"batch_size": 5000})

    failures = failed_checks(result)
    assert "config_valid" in failures and "batch_size" in failures["config_valid"]
    assert "dp_model" not in materialized(result)
    assert project.ledger().history() == []


def test_budget_gate_refuses_before_training_and_charges_nothing(project, sample_frame):
    project.ledger().set_budget("adult", epsilon=1.0, delta=1e-5)
    key = project.drop("budget.csv", sample_frame)

    result = project.run(key)

    failures = failed_checks(result)
    assert set(failures) == {"budget_available"}
    message = failures["budget_available"]
    assert "budget ε=1" in message and "left ε=1" in message and re.search(r"asks for ε=(2\.99|3)\b", message)
    assert "dp_model" not in materialized(result)
    assert project.ledger().history() == []


def test_audit_gate_blocks_the_report_and_the_release(project, sample_frame):
    key = project.drop("audit.csv", sample_frame)

    result = project.run(key, policy={"min_tstr_auc_ratio": 1.5, "max_membership_auc": 0.01})

    failures = failed_checks(result)
    assert set(failures) == {"utility_floor", "membership_inference_ceiling"}
    # Each failing gate says which metric, its value and its threshold.
    assert "tstr_auc_ratio = " in failures["utility_floor"] and "≥ 1.5" in failures["utility_floor"]
    assert "membership_auc = " in failures["membership_inference_ceiling"]
    assert "≤ 0.01" in failures["membership_inference_ceiling"]
    assert "audit_metrics" in materialized(result)
    assert "compliance_report" not in materialized(result) and "released" not in materialized(result)
    assert not list((project.root / "outputs").rglob("release/*"))  # nothing released
    # The table sampled before the gates stays in candidate/, outside the release folder.
    assert list((project.root / "outputs").rglob("candidate/synthetic.csv"))
    # The model was trained: the spend stays on the ledger even though the release is blocked.
    assert [e["status"] for e in project.ledger().history()] == ["committed"]


def test_refresh_job_reaudits_without_spending(project, sample_frame):
    key = project.drop("refresh.csv", sample_frame)
    assert project.run(key).success

    refreshed = project.run(key, job="refresh_audit")

    assert refreshed.success, failed_checks(refreshed)
    # A re-audit rewrites the internal review; it never releases (the decision is the first audit's).
    assert materialized(refreshed) == {"audit_metrics", "compliance_report"}
    assert len(project.ledger().history()) == 1


def test_a_blocked_model_is_not_released_by_a_relaxed_re_audit(project, sample_frame):
    """Retrying the gates until they pass is a non-DP search over the data: the first audit's
    verdict stands, and materializing `released` later still refuses."""
    key = project.drop("retry.csv", sample_frame)
    blocked = project.run(key, policy={"min_tstr_auc_ratio": 1.5})
    assert "utility_floor" in failed_checks(blocked)
    assert project.run(key, job="refresh_audit").success  # the lenient policy now passes every gate
    retry = project.defs().resolve_implicit_global_asset_job_def().get_subset(
        asset_selection={dg.AssetKey("released")}).execute_in_process(
        partition_key=key, instance=project.instance, raise_on_error=False)
    assert not retry.success and "a re-audit never releases it" in str(
        [e.event_specific_data.error for e in retry.all_events if e.is_step_failure][0])
    assert not list((project.root / "outputs").rglob("release/*"))


def test_training_failure_after_dp_started_counts_as_spent(project, sample_frame, monkeypatch):
    from synth_pipeline.synthesizers import dp_tvae

    def crash(self, *args, **kwargs):
        raise RuntimeError("simulated crash in the middle of training")

    original_fit = dp_tvae.DPTVAE.fit

    def fit_then_crash(self, frame, *, on_dp_start=None, **kwargs):
        original_fit(self, frame, on_dp_start=on_dp_start, **kwargs)
        crash(self)

    monkeypatch.setattr(dp_tvae.DPTVAE, "fit", fit_then_crash)
    key = project.drop("crash.csv", sample_frame)

    result = project.run(key)

    assert not result.success
    assert [e["status"] for e in project.ledger().history()] == ["committed"]


def test_failure_before_dp_started_is_refunded(project, sample_frame, monkeypatch):
    from synth_pipeline.synthesizers import dp_tvae

    def fail_early(self, frame, **kwargs):
        raise RuntimeError("simulated failure while building the model")

    monkeypatch.setattr(dp_tvae.DPTVAE, "fit", fail_early)
    key = project.drop("early.csv", sample_frame)

    # A set size: no DP row count is bought, so no DP output exists before the fit fails.
    result = project.run(key, config={"synthetic_rows": 500})

    assert not result.success
    history = project.ledger().history()
    assert [e["status"] for e in history] == ["refunded"]
    assert project.ledger().spend("adult").spent_epsilon == 0.0
    assert np.isfinite(history[0]["epsilon"])


def test_open_columns_get_dp_statistics_charged_with_the_run(project, sample_frame):
    def open_columns(raw):
        for col in raw["columns"]:
            if col["name"] == "hr_per_week":
                col.pop("bounds")
            if col["name"] == "occupation":
                col.pop("categories")

    project.edit_schema(open_columns)
    frame = sample_frame.copy()
    frame.loc[3, "occupation"] = "CANARY-OCCUPATION"
    key = project.drop("open.csv", frame)

    result = project.run(key)

    assert result.success, failed_checks(result)
    model = result.output_for_node("dp_model").as_dict()
    released = model["dp_statistics"]
    assert set(released) == {"hr_per_week", "occupation"}
    assert "CANARY-OCCUPATION" not in released["occupation"]["categories"]
    assert set(result.output_for_node("synthetic_table").frame["occupation"].dropna()) <= set(
        released["occupation"]["categories"])
    assert list(model["privacy"]["preprocessing"]["numeric"]) == ["hr_per_week"]
    history = project.ledger().history("adult")
    assert [e["status"] for e in history] == ["committed"]
    assert "preprocessing_noise_multiplier" in history[0]["params"]
    assert history[0]["epsilon"] <= 3.0
    # The real value outside the DP category set is pooled in the plots, never named anywhere.
    texts = [*_output_texts(project.root / "outputs").values(), *_metadata_texts(project, result)]
    assert texts and all("CANARY-OCCUPATION" not in text for text in texts)
    card = json.loads(open(paths_of(result, "compliance_report")["model_card"], encoding="utf-8").read())
    assert card["privacy"]["budget_split"]["preprocessing"]["columns"] == ["hr_per_week", "occupation"]


def test_non_private_twin_is_reported_but_never_passes_the_privacy_gate(project, sample_frame):
    key = project.drop("twin.csv", sample_frame)

    result = project.run(key, config={"generator": "tvae"})

    failures = failed_checks(result)
    assert set(failures) == {"dp_guarantee"}
    assert "NOT differentially private" in failures["dp_guarantee"]
    report = json.loads(open(paths_of(result, "compliance_report")["json"], encoding="utf-8").read())
    assert report["is_dp"] is False and report["release_passed"] is False
    markdown = open(paths_of(result, "compliance_report")["markdown"], encoding="utf-8").read()
    assert "NOT differentially private" in markdown
    paths = paths_of(result, "compliance_report")
    compliance = json.loads(open(paths["compliance"], encoding="utf-8").read())
    assert {f["status"] for f in compliance["frameworks"].values()} == {"non-compliant"}
    privacy = json.loads(open(paths["privacy_report"], encoding="utf-8").read())
    assert privacy["privacy_score"]["score"] == 0 and privacy["safety"]["risk_level"] == "high"
    assert "released" not in materialized(result)  # the dp_guarantee gate blocks the release
    assert not list((project.root / "outputs").rglob("release/*"))
    assert project.ledger().history() == []


def test_sweep_runs_each_setting_and_one_comparison_lists_every_run(project, sample_frame):
    import dagster as dg

    from synth_pipeline.defs.sweep import SWEEP_TAG, run_sweep

    key = project.drop("sweep.csv", sample_frame)
    settings = [{"generator": "dp-tvae", "epsilon": 1.0}, {"generator": "tvae", "epsilon": 1.0}]

    comparison, paths = run_sweep(defs=project.defs(), instance=project.instance, partition=key, settings=settings,
                                  files=project.files, ledger=project.ledger_resource,
                                  base_config={"epochs": 1, "batch_size": 48},
                                  audit_policy=LENIENT_POLICY, sweep_id="s1")

    rows = comparison["runs"]
    assert [(r["generator"], r["epsilon_target"]) for r in rows] == [("dp-tvae", 1.0), ("tvae", 1.0)]
    assert rows[1]["status"] == "not DP: never released" and rows[1]["epsilon"] is None
    assert rows[0]["epsilon"] <= 1.0 and rows[0]["utility"] is not None
    runs = project.instance.get_runs(filters=dg.RunsFilter(tags={SWEEP_TAG: "s1"}))
    assert {r.run_id for r in runs} == {r["run_id"] for r in rows}
    html = paths["html"].read_text(encoding="utf-8")
    assert assert_offline(html) == 1 and all(r["run_id"] in html for r in rows)
    assert paths["html"].parent == project.root / "outputs" / "adult" / "sweep.csv" / "comparisons" / "s1"
    assert len(project.ledger().history("adult")) == 1  # the DP run is charged; the twin charges nothing
