"""The whole chain on a large generated table: wall time per stage and peak memory.

Usage: python bench/million_rows.py --rows 1000000 --generator aim [--epsilon 1] [--out FILE]

The table (20 columns: 9 categorical, 5 integer, 5 float, a binary label) is drawn from a
known model (``make_table``: the label is a logistic function of five columns), with its
public schema declaring every bound and category from that model, never from the rows. The
chain is `synth-pipeline synthesize` (every gate), run as a child under `/usr/bin/time -v`
for its peak RSS; stage times are read from the child's progress lines as they arrive. One
JSON line per run is appended to ``--out``: stage seconds, peak RSS, the audit's utility and
fidelity (read from the run's internal review), and the true model's own AUC on fresh rows,
the ceiling any generator's TSTR is measured against.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

ROOT = Path(__file__).resolve().parents[1]
REGIONS = [f"region_{i:02d}" for i in range(12)]
SECTORS = ["retail", "health", "public", "finance", "industry", "transport", "education", "other"]
PLANS = ["basic", "silver", "gold", "platinum", "none"]
EDUCATION = ["none", "primary", "secondary", "vocational", "bachelor", "master"]
CHANNELS = ["branch", "phone", "web", "app"]
STATUS = ["active", "dormant", "closed"]
TIERS = ["t1", "t2", "t3", "t4"]


def make_table(rows: int, seed: int) -> pd.DataFrame:
    """Rows from a fixed generative model (the 'truth' of this benchmark)."""
    rng = np.random.default_rng(seed)
    region = rng.choice(len(REGIONS), rows, p=np.linspace(2, 1, len(REGIONS)) / np.linspace(2, 1, len(REGIONS)).sum())
    sector = rng.choice(len(SECTORS), rows)
    age = np.clip(rng.normal(44, 14, rows).round(), 18, 90).astype(int)
    education = np.clip((age - 18) // 12 + rng.integers(-1, 3, rows), 0, 5)
    income = np.clip(np.exp(rng.normal(10.2 + 0.12 * education + 0.004 * (age - 18), 0.5)), 0, 500_000)
    plan = np.where(income > 60_000, rng.choice([1, 2, 3], rows), rng.choice([0, 1, 4], rows))
    sex = rng.choice(2, rows)
    smoker = rng.random(rows) < 0.18 + 0.05 * sex
    channel = np.where(age < 35, rng.choice([2, 3], rows), rng.choice(4, rows))
    tenure = np.clip((age - 18) * rng.random(rows), 0, 40).round().astype(int)
    status = np.where(tenure < 2, rng.choice(3, rows, p=[0.5, 0.3, 0.2]), rng.choice(3, rows, p=[0.8, 0.15, 0.05]))
    tier = np.minimum(3, tenure // 8)
    visits = np.minimum(30, rng.poisson(2 + 0.05 * (age - 18) + 2 * smoker))
    dependents = np.minimum(6, rng.poisson(1.2, rows))
    balance = np.clip(income * rng.gamma(2.0, 0.4, rows), 0, 1_000_000)
    score = np.clip(rng.normal(650 + 40 * (tier - 1.5) - 30 * (status == 2), 60), 300, 850)
    weight = np.clip(rng.normal(75 + 10 * sex, 13, rows), 40, 150)
    bmi = np.clip(weight / rng.normal(1.72, 0.08, rows) ** 2, 14, 50)
    claims = np.clip(rng.exponential(800 + 400 * smoker + 60 * visits), 0, 100_000)
    logit = (-2.0 + 1.6 * smoker + 0.05 * (age - 44) + 0.12 * visits - 0.006 * (score - 650)
             + 0.8 * (plan == 4) + 0.5 * np.isin(region, [0, 1, 2]))
    label = rng.random(rows) < 1 / (1 + np.exp(-logit))
    return pd.DataFrame({
        "region": np.array(REGIONS)[region], "sector": np.array(SECTORS)[sector], "plan": np.array(PLANS)[plan],
        "sex": np.array(["female", "male"])[sex], "smoker": np.array(["no", "yes"])[smoker.astype(int)],
        "education": np.array(EDUCATION)[education], "channel": np.array(CHANNELS)[channel],
        "status": np.array(STATUS)[status], "tier": np.array(TIERS)[tier],
        "age": age, "tenure": tenure, "visits": visits, "dependents": dependents,
        "income": income.round(2), "balance": balance.round(2), "score": score.round(1), "weight": weight.round(1),
        "bmi": bmi.round(2), "claims_amount": claims.round(2), "high_cost": np.array(["no", "yes"])[label.astype(int)],
    })


def schema(rows: int) -> dict:
    """Public: the model's own ranges and category lists."""
    cats = {"region": REGIONS, "sector": SECTORS, "plan": PLANS, "sex": ["female", "male"], "smoker": ["no", "yes"],
            "education": EDUCATION, "channel": CHANNELS, "status": STATUS, "tier": TIERS, "high_cost": ["no", "yes"]}
    ints = {"age": [18, 90], "tenure": [0, 40], "visits": [0, 30], "dependents": [0, 6]}
    floats = {"income": [0, 500000], "balance": [0, 1000000], "score": [300, 850], "weight": [40, 150],
              "bmi": [14, 50], "claims_amount": [0, 100000]}
    columns = ([{"name": n, "type": "categorical", "categories": c} for n, c in cats.items()]
               + [{"name": n, "type": "integer", "bounds": b} for n, b in ints.items()]
               + [{"name": n, "type": "float", "bounds": b} for n, b in floats.items()])
    for c in columns:
        if c["name"] in ("age", "sex", "region"):
            c["role"] = "quasi_identifier"
    return {"dataset": f"generated_{rows}", "label": "high_cost", "positive_label": "yes",
            "max_rows": int(rows * 1.1), "columns": columns}


def truth_auc(rows: int, seed: int) -> float:
    """The ceiling: a HistGradientBoosting fit on fresh rows of the model, scored on others."""
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.metrics import roc_auc_score

    train, test = make_table(min(rows, 200_000), seed + 1), make_table(50_000, seed + 2)
    def x(f):
        return pd.get_dummies(f.drop(columns="high_cost"), dtype=float)
    model = HistGradientBoostingClassifier(random_state=0).fit(x(train), train["high_cost"] == "yes")
    cols = x(train).columns
    return float(roc_auc_score(test["high_cost"] == "yes", model.predict_proba(x(test).reindex(columns=cols, fill_value=0))[:, 1]))


STAGE = re.compile(r"synth_pipeline[.\w]*: (read |raw-data|profile|pii|config:|training |trained |sampled |evaluating|"
                   r"evaluation: |internal review|released|release )")


def run_chain(csv: Path, schema_path: Path, generator: str, epsilon: float, work: Path) -> dict:
    cmd = ["/usr/bin/time", "-v", sys.executable, "-m", "synth_pipeline.cli", "synthesize", "--input", str(csv),
           "--schema", str(schema_path), "--generator", generator, "--epsilon", str(epsilon),
           "--ledger", str(work / "ledger.duckdb"), "--outputs", str(work / "outputs"), "--state", str(work / "state"),
           "--budget-epsilon", "100"]
    start = time.monotonic()
    marks, tail = [], []
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT,
                            env={**os.environ, "PYTHONPATH": str(ROOT)})
    for line in proc.stderr:
        now = round(time.monotonic() - start, 1)
        tail.append(line.rstrip())
        message = line.split(": ", 1)[-1].strip()
        if STAGE.search(line) or "rounds" in line.lower() and "done" in line.lower():
            marks.append([now, message[:120]])
    out = proc.stdout.read()
    proc.wait()
    rss = next((int(x.split()[-1]) // 1024 for x in tail if "Maximum resident set size" in x), None)
    result = {"exit": proc.returncode, "wall_s": round(time.monotonic() - start, 1), "peak_rss_mb": rss,
              "stages": marks}
    try:
        result["command_output"] = json.loads(out)
    except json.JSONDecodeError:
        result["stderr_tail"] = tail[-25:]
        return result
    if "internal_review" not in result["command_output"]:  # a gate blocked the release: its reason is the result
        decision = next((work / "outputs").glob("*/*/*/internal/release_decision.json"), None)
        if decision is not None:
            result["blocked_by"] = json.loads(decision.read_text(encoding="utf-8"))["reason"]
        return result
    card = Path(result["command_output"]["internal_review"]).parent / "model_card.json"
    if card.is_file():
        audit = json.loads(card.read_text(encoding="utf-8"))["audit"]
        hgb = next(t for t in audit["tstr"] if t["metric"] == "auc" and "gradient" in t["model"])
        result["audit"] = {"quality": round(audit["quality_score"], 4), "tstr_auc": round(hgb["tstr"], 4),
                           "trtr_auc": round(hgb["trtr"], 4), "tstr_over_trtr": round(hgb["tstr"] / hgb["trtr"], 4),
                           "skill_kept": round((hgb["tstr"] - 0.5) / (hgb["trtr"] - 0.5), 4),
                           "seconds": {k.split(".", 1)[1]: v for k, v in audit["other_metrics"].items()
                                       if k.startswith("seconds.")}}
    return result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--generator", default="aim")
    parser.add_argument("--epsilon", type=float, default=1.0)
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--work", default="/tmp/synth_million")
    parser.add_argument("--out", default=str(ROOT / "bench" / "results_million_rows.jsonl"))
    args = parser.parse_args()
    work = Path(args.work) / f"{args.generator}_{args.rows}_{int(time.time())}"
    work.mkdir(parents=True)
    t = time.monotonic()
    csv = work / f"generated_{args.rows}.csv"
    make_table(args.rows, args.seed).to_csv(csv, index=False)
    (work / "schema.yaml").write_text(yaml.safe_dump(schema(args.rows), sort_keys=False), encoding="utf-8")
    generate_s = round(time.monotonic() - t, 1)
    result = run_chain(csv, work / "schema.yaml", args.generator, args.epsilon, work)
    line = {"date": time.strftime("%Y-%m-%d %H:%M"), "machine": f"{platform.machine()}, {os.cpu_count()} cores",
            "load_before_after": os.getloadavg()[0], "rows": args.rows, "generator": args.generator,
            "epsilon": args.epsilon, "generate_s": generate_s, "csv_mb": round(csv.stat().st_size / 2**20, 1),
            "truth_auc": round(truth_auc(args.rows, args.seed), 4), **result}
    with open(args.out, "a", encoding="utf-8") as handle:
        handle.write(json.dumps(line) + "\n")
    print(json.dumps(line, indent=1)[:4000])


if __name__ == "__main__":
    main()
