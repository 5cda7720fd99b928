"""The whole audit suite on a 100k × 30 table: wall time per metric.

Usage: python bench/audit_suite.py [--rows 100000] [--columns 30] [--holdout 25000] [--seed 0]
The table is generated (no private data needed): 12 numeric columns (two of them with
missing values), 18 categorical ones (2 to 40 categories, one label, two sensitive, one
constant), linked through a latent factor so that pairs are associated. The "synthetic"
table is the same generator with another seed, so every metric runs at full size.
Prints one JSON object; the figure goes to BENCHMARKS.md with `uptime`.
"""

import argparse
import json
import os
import platform
import resource
import subprocess
import time

import numpy as np
import pandas as pd


def make_schema(columns: int):
    from synth_pipeline.schema import parse_schema

    n_num = columns * 2 // 5
    cols = []
    for j in range(n_num):
        cols.append({"name": f"num_{j}", "type": "float" if j % 2 else "integer", "bounds": [0, 1000],
                     "nullable": j < 2})
    for j in range(columns - n_num):
        k = [2, 3, 5, 8, 12, 20, 40][j % 7]
        col = {"name": f"cat_{j}", "type": "categorical", "categories": [f"c{i}" for i in range(k)]}
        if j == 0:
            col.update(categories=["no", "yes"], role="label")
        elif j in (1, 2):
            col["role"] = ["sensitive"]
        elif j in (3, 4, 5):
            col["role"] = "quasi_identifier"
        cols.append(col)
    return parse_schema({"dataset": "bench", "label": "cat_0", "positive_label": "yes", "columns": cols})


def make_table(schema, rows: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    latent = rng.normal(size=rows)
    out = {}
    for c in schema.columns:
        noise = rng.normal(size=rows)
        if c.is_numeric:
            x = np.clip(500 + 150 * (0.7 * latent + 0.7 * noise), 0, 1000)
            x = np.round(x) if c.type == "integer" else x
            if c.nullable:
                x = np.where(rng.uniform(size=rows) < 0.05, np.nan, x)
            out[c.name] = x
        else:
            k = len(c.categories)
            if c.name == "cat_6":  # a constant column
                codes = np.zeros(rows, dtype=int)
            else:
                z = 0.8 * latent + 0.6 * noise
                codes = np.clip(np.floor((z + 2.5) / 5 * k), 0, k - 1).astype(int)
            out[c.name] = pd.array(np.asarray(c.categories, dtype=object)[codes], dtype="string")
    return pd.DataFrame(out)


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--columns", type=int, default=30)
    parser.add_argument("--holdout", type=int, default=25_000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    from synth_pipeline.evaluation.suite import evaluate_synthetic
    from synth_pipeline.evaluation.gates import AuditPolicy

    schema = make_schema(args.columns)
    train = make_table(schema, args.rows, args.seed)
    holdout = make_table(schema, args.holdout, args.seed + 1)
    synthetic = make_table(schema, args.rows, args.seed + 2)
    start, cpu_start = time.perf_counter(), _cpu_seconds()
    metrics = evaluate_synthetic(real_train=train, holdout=holdout, synthetic=synthetic, schema=schema, policy=AuditPolicy(),
                        seed=args.seed)
    total, cpu = time.perf_counter() - start, _cpu_seconds() - cpu_start
    print(json.dumps({
        "rows": args.rows, "columns": args.columns, "holdout": args.holdout, "seconds_total": round(total, 1),
        "cpu_seconds": round(cpu, 1),  # user + system, all threads: less sensitive to other load
        "seconds": metrics["seconds"], "passed": metrics["passed"],
        "gates": {g["gate"]: (round(g["value"], 4) if g["value"] is not None else None) for g in metrics["gates"]},
        "cpus": os.cpu_count(), "machine": platform.machine(), "python": platform.python_version(),
        "uptime": subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip(),
    }, indent=2))


if __name__ == "__main__":
    main()
