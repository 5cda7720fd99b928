"""What the release gates compare on Adult for two reference "generators" that need no
training: independent columns (each column resampled on its own) and a copy of the training
rows. Per gate: the point value, what the gate compares (the one-sided 95% upper bound for
the attack ceilings) and the verdict.

Usage: python bench/gates_adult.py [--holdout-fraction 0.2] [--seed 0]
Reads the bundled sample (identifiers dropped by the schema), a seeded split: benchmarks
release nothing. Prints one JSON object; the table goes to BENCHMARKS.md.
"""

import argparse
import json
from pathlib import Path

import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    from synth_pipeline.data_io import apply_holdout, read_drop
    from synth_pipeline.evaluation.gates import AuditPolicy
    from synth_pipeline.evaluation.suite import evaluate_synthetic
    from synth_pipeline.schema import load_schema

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--holdout-fraction", type=float, default=0.2)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    schema = load_schema(ROOT / "data/sample/adult_schema.yaml")
    frame = read_drop(ROOT / "data/sample/adult_sample.csv", schema)
    rng = np.random.default_rng(args.seed)
    train, holdout = apply_holdout(frame, rng.random(len(frame)) < args.holdout_fraction)
    generators = {
        "independent columns": pd.DataFrame({c: train[c].sample(frac=1.0, random_state=i).to_numpy()
                                             for i, c in enumerate(train.columns)}),
        "copy": train.sample(frac=1.0, random_state=1).reset_index(drop=True),
    }
    out = {"training_rows": len(train), "holdout_rows": len(holdout), "gates": {}}
    with threadpool_limits(limits=1):
        for name, synthetic in generators.items():
            metrics = evaluate_synthetic(real_train=train, holdout=holdout, synthetic=synthetic, schema=schema,
                                         policy=AuditPolicy(), seed=args.seed)
            for g in metrics["gates"]:
                out["gates"].setdefault(g["gate"], {"threshold": g["threshold"], "side": g["side"]})[name] = {
                    "value": g["value"], "compared": g["compared"], "passed": g["passed"]}
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
