"""Where label skill stops at ε = 1: ceilings without DP, and a DP label model measured against AIM.

Usage: python bench/label_model.py [--tables adult randhie ...] [--repeats 3] [--shares 0.25 0.5]
           [--out bench/results_label_model.jsonl]

Two questions for issues 15 and 16, on ``bench/peers.py``'s split, declared domains and scorer:

1. **Ceilings, no DP** (one line per table): TRTR (HistGradientBoosting on the raw columns), the
   same classifier on the columns cut into 32 equal-width bins (what a binned model can carry at
   best), and a logistic regression on those bins one-hot (what a label model that is additive
   over the columns can carry at best). Skill kept is (AUC − 0.5) / (TRTR − 0.5).
2. **AIM plus a DP label model** (``--repeats`` paired fits per share): AIM on the whole ρ
   (today's release), against AIM on (1 − λ)·ρ whose sampled rows get their label redrawn from a
   logistic regression fitted with DP on λ·ρ: full-batch noisy gradient descent on AIM's own
   coarse cells one-hot, each step a Gaussian mechanism on the sum of per-row gradients (L2
   sensitivity √(columns + 1) for a binary label: a row's one-hot vector has that norm and
   |p − y| ≤ 1), 20 steps at ρ = λ·ρ / 20 each, divided by AIM's noisy total, never n.

A prototype for measurement only: its noise comes from ``numpy.random.default_rng()`` (OS
entropy), nothing is charged or released, and releases never run it. Reads the benchmark
tables' private values (not DP: a benchmark). One JSON line per result is appended to
``--out``.
"""

from __future__ import annotations

import argparse
import json
import math
import platform
import sys
import time
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))

from peers import split  # noqa: E402
from recommendation import TABLES, release_plan, scores  # noqa: E402

BINS = 32
STEPS = 20


def _binned(frame, columns):
    """The non-label columns cut into BINS equal-width bins over the declared bounds (numeric) or
    kept as their categories, missing values as their own level (strings; for the ceilings)."""
    import numpy as np
    import pandas as pd

    out = {}
    for c in columns:
        if c.is_numeric:
            lo, hi = c.bounds
            v = pd.to_numeric(frame[c.name], errors="coerce")
            cut = np.clip(((v.fillna(lo) - lo) / (hi - lo + 1e-12) * BINS).astype(int), 0, BINS - 1)
            out[c.name] = np.where(v.isna(), "NA", cut.astype(str))
        else:
            out[c.name] = np.array(["NA" if pd.isna(x) else str(x) for x in frame[c.name]], dtype=object)
    return pd.DataFrame(out, index=frame.index).astype("category")


def ceilings(name: str) -> dict:
    """Non-private label skill ceilings of one table (see the module docstring)."""
    import numpy as np
    import pandas as pd
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import roc_auc_score
    from sklearn.preprocessing import OneHotEncoder

    train, holdout, schema = split(name)
    label = schema.label
    columns = [c for c in schema.modelled_columns if c.name != label]
    positive = sorted(train[label].astype(str).unique())[-1]
    y_train, y_hold = (train[label].astype(str) == positive), (holdout[label].astype(str) == positive)

    def raw(frame):
        return pd.DataFrame({c.name: pd.to_numeric(frame[c.name], errors="coerce") if c.is_numeric else
                             pd.Series(["NA" if pd.isna(x) else str(x) for x in frame[c.name]],
                                       index=frame.index, dtype=object).astype("category") for c in columns})

    def auc(model, fit_x, test_x):
        return roc_auc_score(y_hold, model.fit(fit_x, y_train).predict_proba(test_x)[:, 1])

    hgb = HistGradientBoostingClassifier(random_state=0, categorical_features="from_dtype")
    trtr = auc(hgb, raw(train), raw(holdout))
    bins_train, bins_hold = _binned(train, columns), _binned(holdout, columns)
    binned = auc(hgb, bins_train, bins_hold)
    onehot = OneHotEncoder(handle_unknown="ignore").fit(bins_train.astype(str))
    linear = auc(LogisticRegression(max_iter=3000), onehot.transform(bins_train.astype(str)),
                 onehot.transform(bins_hold.astype(str)))
    skill = {k: round((v - 0.5) / (trtr - 0.5), 4) for k, v in (("binned_hgb", binned), ("onehot_logistic", linear))}
    return {"kind": "ceiling", "table": name, "train_rows": len(train), "trtr_auc": round(trtr, 4),
            "binned_hgb_auc": round(binned, 4), "onehot_logistic_auc": round(linear, 4),
            **{f"skill_{k}": v for k, v in skill.items()}, "positive_share": round(float(np.mean(y_train)), 4)}


def _noisy_logistic(x, y, *, rho: float, total: float, rng):
    """DP (prototype): logistic regression by STEPS full-batch noisy gradient steps, each a
    Gaussian mechanism on the sum of per-row gradients (sensitivity: the one-hot row norm),
    together costing exactly ``rho``; momentum 0.9, rate 1, ridge 1e-3, the later half averaged."""
    import numpy as np

    sensitivity = math.sqrt(float(x[0].sum()))  # every row has one 1 per column and the intercept
    sigma = sensitivity * math.sqrt(STEPS / (2 * rho))
    w, velocity, mean = np.zeros(x.shape[1]), np.zeros(x.shape[1]), np.zeros(x.shape[1])
    for step in range(STEPS):
        p = 1 / (1 + np.exp(-(x @ w)))
        gradient = (x.T @ (p - y) + rng.normal(0, sigma, x.shape[1])) / total + 1e-3 * w
        velocity = 0.9 * velocity + gradient
        w = w - velocity
        if step >= STEPS // 2:
            mean += w / (STEPS - STEPS // 2)
    return mean


def paired_fit(name: str, share: float) -> dict:
    """One paired fit at ε = 1: AIM on ρ, and AIM on (1 − share)·ρ relabelled by the DP label model."""
    import numpy as np
    import pandas as pd

    from synth_pipeline.chain.training import fit_generator
    from synth_pipeline.synthesizers.marginal import cells

    train, holdout, schema = split(name)
    label = schema.label
    config, plan = release_plan(schema, "aim", 1.0)
    start = time.perf_counter()
    whole, _, _ = fit_generator(train, schema.modelled_columns, config, plan, label=label)
    base = scores(train, holdout, whole.sample(len(train), seed=2), schema)
    aim_seconds = time.perf_counter() - start
    part, _, _ = fit_generator(train, schema.modelled_columns, config, replace(plan, rho=plan.rho * (1 - share)),
                               label=label)
    synthetic = part.sample(len(train), seed=2)
    names = [c.name for c in part.codec.codecs]
    j_label = names.index(label)

    def design(frame):
        coarse = cells.coarse_cells(part.codec.encode_cells(frame), part.columns)
        blocks = [np.eye(part.shape[j], dtype=np.float32)[coarse[:, j]] for j in range(len(names)) if j != j_label]
        return np.hstack(blocks + [np.ones((len(frame), 1), np.float32)])

    values = sorted(train[label].astype(str).unique())
    y = (train[label].astype(str) == values[-1]).to_numpy(float)
    rng = np.random.default_rng()
    w = _noisy_logistic(design(train), y, rho=share * plan.rho, total=part.model.total, rng=rng)
    p = 1 / (1 + np.exp(-(design(synthetic) @ w)))
    relabelled = synthetic.assign(**{label: pd.Series(np.where(rng.random(len(synthetic)) < p, values[-1], values[0]),
                                                      index=synthetic.index).astype(synthetic[label].dtype)})
    hybrid = scores(train, holdout, relabelled, schema)
    return {"kind": "paired", "table": name, "epsilon": 1.0, "share": share,
            "aim_skill_kept": base["skill_kept"], "aim_quality": base["quality_score"],
            "aim_part_skill_kept": scores(train, holdout, synthetic, schema)["skill_kept"],
            "hybrid_skill_kept": hybrid["skill_kept"], "hybrid_quality": hybrid["quality_score"],
            "aim_pair_tv": base["mean_pair_tv_error"], "hybrid_pair_tv": hybrid["mean_pair_tv_error"],
            "aim_seconds": round(aim_seconds, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tables", nargs="+", default=list(TABLES))
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--shares", nargs="+", type=float, default=[0.25, 0.5])
    parser.add_argument("--out", default=str(ROOT / "bench/results_label_model.jsonl"))
    args = parser.parse_args()
    machine = {"machine": f"{platform.machine()}, {platform.node()}", "date": time.strftime("%Y-%m-%d")}
    with open(args.out, "a") as out:
        for name in args.tables:
            rows = [ceilings(name)] + [paired_fit(name, share) for share in args.shares for _ in range(args.repeats)]
            for row in rows:
                out.write(json.dumps({**row, **machine}) + "\n")
                out.flush()
                print(json.dumps(row), flush=True)


if __name__ == "__main__":
    main()
