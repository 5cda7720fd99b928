"""Reports of one release: privacy report, compliance status logic, model card, narrative,
plots and the offline HTML page, on hand-made release facts (no training)."""

import copy
import json
import zlib
from html.parser import HTMLParser

import pytest

from synth_pipeline.reporting import compliance, model_card, narrative, plots
from synth_pipeline.reporting.common import attack_intervals, find_intervals, tstr_pairs
from synth_pipeline.reporting.documents import build_documents, write_documents
from synth_pipeline.reporting.privacy_report import build_privacy_report, epsilon_score

GATES_OK = [
    {"gate": "utility_floor", "metric": "tstr_auc_ratio", "value": 0.9, "threshold": 0.8, "passed": True,
     "message": "ok"},
    {"gate": "dcr_ceiling", "metric": "dcr_share", "value": 0.5, "threshold": 0.6, "passed": True, "message": "ok"},
]
AUDIT = {
    "dp": False, "passed": True, "gates": GATES_OK,
    "quality": {"quality_score": 0.8, "column_shapes": 0.85, "column_pair_trends": 0.75,
                "worst_pairs": {"age|income": 0.6}},
    "tstr": {"label": "income", "model": "HistGradientBoostingClassifier", "trtr_auc": 0.9, "tstr_auc": 0.8,
             "auc_ratio": 0.89, "trtr_accuracy": 0.85, "tstr_accuracy": 0.8},
    "dcr": {"dcr_share": 0.5, "exact_match_share": 0.0, "nndr_median": 0.9},
    # Sections of the growing audit (issue 6), in two of the shapes it may take.
    "membership_inference": {"auc": 0.52, "ci": [0.48, 0.56]},
    "anonymeter": {"singling_out": {"risk": 0.01, "ci_low": 0.0, "ci_high": 0.03},
                   "linkability": {"risk": 0.02, "ci_low": 0.0, "ci_high": 0.05},
                   "inference": {"risk": 0.03, "ci_low": 0.0, "ci_high": 0.06}},
    "detection": {"auc": 0.61},
}
MODEL = {
    "generator": "dp-tvae", "is_dp": True, "model_dir": "/nowhere/model",
    "privacy": {"mechanism": "DP-SGD", "dp_scope": "the whole VAE", "epsilon_target": 1.0, "epsilon_spent": 0.99,
                "delta": 1e-6, "accountant": "rdp", "noise_multiplier": 1.9, "sample_rate": 0.02, "steps": 300,
                "max_grad_norm": 1.0, "poisson_sampling": True, "ledger_event_id": "e1", "preprocessing": None},
    "training": {"device": "cpu"}, "plan": {"steps": 300, "sample_rate": 0.02, "noise_multiplier": 1.9},
}
LEDGER = {"dataset": "adult", "budget_epsilon": 10.0, "budget_delta": 1e-5, "composition": "tight", "events": 2,
          "spent_epsilon_basic": 1.99, "spent_epsilon_tight": 1.7, "spent_epsilon": 1.7, "remaining_epsilon": 8.3}
HISTORY = [
    {"event_id": "e0", "dataset": "adult", "run_key": "older:run", "status": "committed", "epsilon": 1.0,
     "delta": 1e-6, "mechanism": "dp-sgd", "accountant": "rdp", "created_at": "2023-11-13T10:00:00",
     "status_at": "2023-11-13T10:00:05"},
    {"event_id": "e1", "dataset": "adult", "run_key": "run-1:drop.csv", "status": "committed", "epsilon": 0.99,
     "delta": 1e-6, "mechanism": "dp-sgd", "accountant": "rdp", "created_at": "2023-11-14T22:13:25",
     "status_at": "2023-11-14T22:13:29+00:00"},
]
PII = {"dropped_before_training": ["email"], "quasi_identifiers": [], "findings": [], "training_columns": ["age"]}
PROFILE = {"dataset": "adult", "n_rows": 1200, "n_numeric": 6, "n_categorical": 9, "modelled_columns": ["age"],
           "direct_identifiers": ["email"]}
CONFIG = {"generator": "dp-tvae", "epsilon": 1.0, "delta": 1e-6, "epochs": 2, "batch_size": 48, "seed": 0,
          "holdout_fraction": 0.2, "accountant": "rdp"}


def statuses(audit=AUDIT, model=MODEL, pii=PII, extra_gates=None) -> dict:
    pr = build_privacy_report(model=model, config=CONFIG, ledger_after=LEDGER, audit=audit, profile=PROFILE, pii=pii,
                              extra_gates=extra_gates)
    report = compliance.build_compliance(privacy_report=pr, pii=pii, audit=audit, run_id="run-1",
                                         extra_gates=extra_gates)
    return {k: v["status"] for k, v in report["frameworks"].items()}


def test_a_clean_dp_release_with_every_attack_measured_is_compliant_everywhere():
    assert statuses() == dict.fromkeys(compliance.FRAMEWORKS, compliance.COMPLIANT)


def test_a_failed_gate_makes_every_framework_non_compliant():
    audit = copy.deepcopy(AUDIT)
    audit["gates"][1].update(value=0.7, passed=False)
    audit["passed"] = False
    assert set(statuses(audit=audit).values()) == {compliance.NON_COMPLIANT}


def test_a_failed_dagster_gate_outside_the_audit_counts_too():
    extra = [{"gate": "dp_guarantee", "passed": False}, {"gate": "dcr_ceiling", "passed": True}]
    assert set(statuses(extra_gates=extra).values()) == {compliance.NON_COMPLIANT}
    pr = build_privacy_report(model=MODEL, config=CONFIG, ledger_after=LEDGER, audit=AUDIT, profile=PROFILE)
    ev = compliance.evidence(privacy_report=pr, pii=PII, audit=AUDIT, run_id="r", extra_gates=extra)
    assert [g["gate"] for g in ev["gates"]] == ["utility_floor", "dcr_ceiling", "dp_guarantee"]  # one per gate


def test_a_non_private_generator_is_never_compliant():
    model = copy.deepcopy(MODEL)
    model.update(generator="tvae", is_dp=False)
    result = statuses(model=model)
    assert set(result.values()) == {compliance.NON_COMPLIANT}
    pr = build_privacy_report(model=model, config=CONFIG, ledger_after=LEDGER, audit=AUDIT, profile=PROFILE)
    assert pr["privacy_score"]["score"] == 0 and pr["safety"]["risk_level"] == "high"
    assert pr["epsilon_achieved"] is None


def test_framework_specific_reviews():
    pii = {**PII, "quasi_identifiers": ["age", "zip"]}
    assert statuses(pii=pii)["HIPAA"] == compliance.REVIEW  # Safe Harbor identifiers survive
    audit = {k: v for k, v in AUDIT.items() if k != "anonymeter"}
    result = statuses(audit=audit)
    assert result["GDPR"] == compliance.REVIEW  # WP29 criteria not all measured
    assert result["SOC 2"] == compliance.COMPLIANT
    weak = copy.deepcopy(MODEL)
    weak["privacy"].update(epsilon_spent=15.0, epsilon_target=15.0)
    assert set(statuses(model=weak).values()) == {compliance.REVIEW}


def test_every_framework_states_what_it_cannot_decide_and_its_evidence():
    pr = build_privacy_report(model=MODEL, config=CONFIG, ledger_after=LEDGER, audit=AUDIT, profile=PROFILE)
    report = compliance.build_compliance(privacy_report=pr, pii=PII, audit=AUDIT, run_id="run-1")
    for fw in report["frameworks"].values():
        assert fw["requirements"] and fw["recommendations"] and fw["reasons"]
        assert "legal" in fw["cannot_decide"] or "auditor" in fw["cannot_decide"]
        assert fw["evidence"]["epsilon"] == 0.99 and fw["evidence"]["ledger"]["spent_epsilon"] == 1.7
    assert "membership_inference" in report["evidence"]["attack_results (internal, not DP)"]


def test_privacy_report_facts_score_and_recommendations():
    pr = build_privacy_report(model=MODEL, config=CONFIG, ledger_after=LEDGER, audit=AUDIT, profile=PROFILE)
    assert pr["epsilon_achieved"] == 0.99 and pr["epsilon_target"] == 1.0
    assert pr["budget_utilization"] == pytest.approx(0.99)
    assert pr["privacy_level"] == "very strong"
    assert pr["privacy_score"]["score"] == pytest.approx(epsilon_score(0.99), abs=0.05)
    assert pr["ledger_after_release"]["remaining_epsilon"] == 8.3
    assert pr["recommendations"]["more_privacy"] and pr["recommendations"]["more_utility"]
    assert [epsilon_score(e) for e in (0, 1, 5, 10, 20, 50, 100)] == [10, 9, 7, 5, 3, 0, 0]


def test_marginal_generators_privacy_dict_with_rho_is_rendered():
    model = copy.deepcopy(MODEL)
    model.update(generator="aim")
    model["privacy"] = {"mechanism": "AIM", "dp_scope": "every measured marginal", "epsilon_target": 1.0,
                        "epsilon_spent": 1.0, "delta": 1e-6, "accountant": "zcdp", "rho": 0.02}
    pr = build_privacy_report(model=model, config=CONFIG, ledger_after=LEDGER, audit=AUDIT, profile=PROFILE)
    assert pr["mechanism_parameters"] == {"rho": 0.02}
    card = model_card.build_model_card(profile=PROFILE, config=CONFIG, model=model, audit=AUDIT)
    assert card["privacy"]["budget_split"]["training"]["mechanism"] == "AIM"
    assert "rho" in model_card.render_markdown(card)


def test_empirical_privacy_audit_above_the_claim_is_high_risk():
    audit = {**AUDIT, "privacy_audit": {"claimed_epsilon": 1.0, "empirical_epsilon_lower_bound": 2.5,
                                        "confidence": 0.95}}
    pr = build_privacy_report(model=MODEL, config=CONFIG, ledger_after=LEDGER, audit=audit, profile=PROFILE)
    assert pr["empirical_privacy_audit"]["exceeds_claim"] is True
    assert pr["safety"]["risk_level"] == "high" and pr["privacy_score"]["score"] == 0
    card = model_card.build_model_card(profile=PROFILE, config=CONFIG, model=MODEL, audit=audit)
    assert "Empirical privacy audit" in model_card.render_markdown(card)
    both = [{"auditor": "black-box", "claimed_epsilon": 1.0, "empirical_epsilon_lower_bound": 0.1},
            {"auditor": "white-box", "claimed_epsilon": 1.0, "empirical_epsilon_lower_bound": 0.4}]
    pr = build_privacy_report(model=MODEL, config=CONFIG, ledger_after=LEDGER, audit=AUDIT, profile=PROFILE,
                              privacy_audit=both)
    assert pr["empirical_privacy_audit"]["auditor"] == "white-box"
    assert pr["empirical_privacy_audit"]["exceeds_claim"] is False and pr["privacy_score"]["score"] > 0


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


def test_defensive_walks_find_intervals_and_tstr_pairs_at_any_depth():
    names = {i["name"] for i in find_intervals(AUDIT)}
    assert {"membership_inference", "anonymeter.singling_out", "anonymeter.linkability"} <= names
    nested = {"models": {"logreg": {"tstr_f1": 0.6, "trtr_f1": 0.7}, "hgb": {"tstr_auc": 0.8, "trtr_auc": 0.9}}}
    assert {(p["model"], p["metric"]) for p in tstr_pairs(nested)} == {("models.logreg", "f1"), ("models.hgb", "auc")}
    assert find_intervals({"mia": {"auc": 0.5, "auc_ci": [0.4, 0.6]}}) == [
        {"name": "mia.auc", "value": 0.5, "low": 0.4, "high": 0.6}]


def test_the_grown_audit_shape_is_read_per_model_and_per_attack():
    audit = {  # the shape evaluation/audit.py documents for issue 6
        "tstr": {"label": "income", "tstr_auc": 0.8, "trtr_auc": 0.9, "models": {
            "hist_gradient_boosting": {"trtr": {"auc": 0.9, "f1": 0.7}, "tstr": {"auc": 0.8, "f1": 0.6},
                                       "auc_ratio": 0.89},
            "logistic_regression": {"trtr": {"auc": 0.88}, "tstr": {"auc": 0.85}}}},
        "detection": {"auc": 0.7, "auc_ci": [0.65, 0.75]},
        "membership": {"auc": 0.51, "auc_ci": [0.47, 0.55]},
        "singling_out": {"risk": 0.02, "univariate": {"risk": 0.02, "ci": [0.0, 0.05]},
                         "multivariate": {"risk": 0.01, "ci": [0.0, 0.03]}},
        "linkability": {"risk": 0.01, "ci": [0.0, 0.02]},
        "inference": {"risk": 0.3, "columns": {"income": {"risk": 0.3, "ci": [0.25, 0.35]}}},
        "gates": GATES_OK, "passed": True,
    }
    pairs = {(p["model"], p["metric"]): (p["tstr"], p["trtr"]) for p in tstr_pairs(audit["tstr"])}
    assert pairs == {("models.hist_gradient_boosting", "auc"): (0.8, 0.9),
                     ("models.hist_gradient_boosting", "f1"): (0.6, 0.7),
                     ("models.logistic_regression", "auc"): (0.85, 0.88)}
    names = {i["name"] for i in attack_intervals(audit)}
    assert names == {"membership.auc", "singling_out.univariate", "singling_out.multivariate", "linkability",
                     "inference.columns.income"}  # detection AUC is utility, not an attack
    pr = build_privacy_report(model=MODEL, config=CONFIG, ledger_after=LEDGER, audit=audit, profile=PROFILE)
    assert pr["safety"]["risk_level"] == "medium"
    assert any("inference.columns.income" in w for w in pr["safety"]["warnings"])
    assert statuses(audit=audit)["GDPR"] == compliance.COMPLIANT  # all three WP29 criteria measured
    assert plots.attacks_png(audit)[:4] == b"\x89PNG" and plots.tstr_png(audit["tstr"])[:4] == b"\x89PNG"


def test_narrative_is_chronological_and_joins_run_and_ledger():
    events = [{"at": 1_700_000_010.0, "kind": "ASSET_MATERIALIZATION", "asset": "dp_model"},
              {"at": 1_700_000_000.0, "kind": "RUN_START"},
              {"at": 1_700_000_020.0, "kind": "ASSET_CHECK_EVALUATION", "check": "dcr_ceiling",
               "asset": "audit_metrics", "passed": True},
              {"at": 1_700_000_021.0, "kind": "LOADED_INPUT"}]
    doc = narrative.build_narrative(run_id="run-1", partition_key="drop.csv", dataset="adult", generator="dp-tvae",
                                    events=events, ledger_events=HISTORY[1:], release_passed=True,
                                    generated_at="2023-11-14T22:13:50+00:00")
    whats = [e["what"] for e in doc["entries"]]
    assert whats[0] == "run started" and whats[-1] == "reports written"
    assert whats.index("event committed (counted as spent)") < whats.index("dp_model materialized")
    assert any(w.startswith("reserved ε=0.99") for w in whats) and "event committed (counted as spent)" in whats
    assert "gate dcr_ceiling on audit_metrics passed" in whats
    times = [e["at"] for e in doc["entries"]]
    assert times == sorted(times)
    assert "| dagster |" in narrative.render_markdown(doc)


class _Offline(HTMLParser):
    def __init__(self):
        super().__init__()
        self.images, self.external, self.scripts = [], [], 0

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "script":
            self.scripts += 1
        if tag == "img":
            self.images.append(attrs.get("src", ""))
        for key in ("src", "href"):
            value = attrs.get(key)
            if value is not None and not (value.startswith("data:") or value.startswith("#")):
                self.external.append(value)
        if tag == "link":
            self.external.append(attrs.get("href", "link"))


def assert_offline(html: str) -> int:
    parser = _Offline()
    parser.feed(html)
    assert parser.external == [] and parser.scripts == 0
    assert all(src.startswith("data:image/png;base64,") for src in parser.images)
    assert "http://" not in html and "https://" not in html
    return len(parser.images)


def png_text_chunks(data: bytes) -> str:
    """The text of every tEXt/zTXt/iTXt chunk of a PNG (the metadata a viewer would show)."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, texts = 8, []
    while pos < len(data):
        length = int.from_bytes(data[pos:pos + 4], "big")
        kind, body = data[pos + 4:pos + 8], data[pos + 8:pos + 8 + length]
        if kind == b"tEXt":
            texts.append(body.decode("latin-1"))
        elif kind == b"zTXt":
            key, _, rest = body.partition(b"\0")
            texts.append(key.decode("latin-1") + zlib.decompress(rest[1:]).decode("latin-1"))
        elif kind == b"iTXt":
            texts.append(body.decode("utf-8", errors="replace"))
        pos += 12 + length
    return "\n".join(texts)


@pytest.fixture(scope="module")
def documents(schema, sample_frame):
    synthetic = sample_frame.sample(frac=1.0, random_state=1).reset_index(drop=True)  # a stand-in, no training
    return build_documents(schema=schema, profile=PROFILE, pii=PII, config=CONFIG, model=MODEL, audit=AUDIT,
                           ledger_after=LEDGER, ledger_history=HISTORY, real_holdout=sample_frame.head(300),
                           synthetic=synthetic.head(300), partition_key="drop.csv", run_id="run-1",
                           run_events=[{"at": 1_700_000_000.0, "kind": "RUN_START"}])


def test_release_page_opens_offline_with_every_plot_embedded(documents, schema):
    images = assert_offline(documents["html"])
    plottable = [c for c in schema.modelled_columns]
    assert images == len(documents["plots"]) == len(plottable) + 4  # marginals, correlations, tstr, attacks, ledger
    assert "INTERNAL REVIEW ONLY" in documents["html"]


def test_plots_are_png_without_text_metadata_and_label_only_schema_values(documents, schema, sample_frame):
    for png in documents["plots"].values():
        assert png_text_chunks(png) == ""
    tables = {t["column"]: t for t in plots.marginal_tables(sample_frame.head(300), sample_frame.tail(300), schema)}
    assert tables["sex"]["labels"] == ["Female", "Male"]
    assert tables["age"]["labels"][0] == "17–20.6" and len(tables["age"]["labels"]) == plots.NUMERIC_BINS
    assert sum(tables["age"]["real"]) == pytest.approx(1.0)


def test_values_outside_the_schema_are_pooled_never_named(schema, sample_frame):
    frame = sample_frame.head(50).copy()
    frame["occupation"] = frame["occupation"].astype("object")
    frame.loc[0, "occupation"] = "CANARY-JOB"
    table = next(t for t in plots.marginal_tables(frame, frame, schema) if t["column"] == "occupation")
    assert "CANARY-JOB" not in table["labels"] and plots.OTHER in table["labels"]


def test_documents_are_written_in_the_documented_layout(documents, tmp_path):
    paths = write_documents(documents, tmp_path)
    names = {p.relative_to(tmp_path / "internal").as_posix() for p in tmp_path.rglob("*") if p.is_file()}
    assert not (tmp_path / "release").exists()  # internal review only: never in the release folder
    for name in ("release_report.json", "release_report.md", "report/release_report.html",
                 "report/privacy_report.json", "report/compliance.json", "report/compliance.md",
                 "report/model_card.json", "report/model_card.md", "report/narrative.json", "report/narrative.md",
                 "report/plots/correlations.png", "report/plots/ledger.png", "report/plots/marginal_age.png"):
        assert name in names, name
    card = json.loads(paths["model_card"].read_text(encoding="utf-8"))
    assert card["data"]["partition"] == "drop.csv"
    assert "**Status:" in paths["compliance_markdown"].read_text(encoding="utf-8")
    # every page says INTERNAL
    for key in ("markdown", "model_card_markdown", "compliance_markdown", "narrative_markdown"):
        assert "INTERNAL REVIEW ONLY" in paths[key].read_text(encoding="utf-8")[:400], key
    page = paths["html"].read_text(encoding="utf-8")
    assert page.index("INTERNAL REVIEW ONLY") < page.index("<h1")
    for key in ("json", "privacy_report", "model_card", "compliance", "narrative"):
        assert json.loads(paths[key].read_text(encoding="utf-8"))["classification"].startswith("INTERNAL"), key


def test_the_drops_latest_privacy_audit_is_read_from_the_instance_when_there_is_one():
    import dagster as dg

    from synth_pipeline.defs.run_events import latest_privacy_audit

    with dg.instance_for_test() as instance:
        assert latest_privacy_audit(instance, "drop.csv") is None
        for lower in (0.2, 0.3):
            instance.report_runless_asset_event(dg.AssetMaterialization(
                asset_key="privacy_audit", partition="drop.csv",
                metadata={"generator": "dp-tvae", "auditor": "black-box", "claimed_epsilon": 1.0,
                          "empirical_epsilon_lower_bound": lower, "confidence": 0.95, "canaries": 200}))
        audit = latest_privacy_audit(instance, "drop.csv")
        assert latest_privacy_audit(instance, "other.csv") is None
    assert audit["empirical_epsilon_lower_bound"] == 0.3 and audit["claimed_epsilon"] == 1.0
    pr = build_privacy_report(model=MODEL, config=CONFIG, ledger_after=LEDGER, audit=AUDIT, profile=PROFILE,
                              privacy_audit=audit)
    assert pr["empirical_privacy_audit"]["exceeds_claim"] is False
