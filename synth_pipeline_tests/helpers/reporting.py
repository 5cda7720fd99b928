"""Hand-made release facts for the reporting tests (no training), the compliance statuses
they lead to, and checks of the pages and plots the reports write."""

import zlib
from html.parser import HTMLParser

from synth_pipeline.reporting import compliance
from synth_pipeline.reporting.privacy_report import build_privacy_report

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
