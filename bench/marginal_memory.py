"""Where a marginal generator's memory and time go, phase by phase, in one process.

Usage: python bench/marginal_memory.py [--generator aim] [--epsilon 1] [--table adult]

Phases, each with its seconds, the process's resident memory after it (VmRSS) and its peak
so far (VmHWM): imports (pandas and the project's chain), reading the drop and the fixed
80/20 split, the fit (DP measurements and the engine's estimation), sampling the synthetic
rows, and the evaluation with its gates (what ``synthesize`` runs after the fit). One JSON
line. Reads the benchmark table's private values (not DP: a benchmark, nothing released).
Run it at another commit (a ``git worktree``) for the before side of a comparison.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent


def _status(field: str) -> int:
    """A field of /proc/self/status in MB (Linux)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) // 1024
    return -1


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--generator", default="aim")
    parser.add_argument("--epsilon", type=float, default=1.0)
    parser.add_argument("--table", default="adult")
    args = parser.parse_args()
    phases, started = [], time.perf_counter()

    def phase(name: str) -> None:
        nonlocal started
        phases.append({"phase": name, "seconds": round(time.perf_counter() - started, 1),
                       "rss_mb": _status("VmRSS"), "peak_mb": _status("VmHWM")})
        started = time.perf_counter()

    phase("python")
    sys.path.insert(0, str(ROOT))
    import recommendation as bench  # the benchmark's tables, split and release config

    from synth_pipeline.chain.training import fit_generator
    from synth_pipeline.evaluation.gates import load_policy
    from synth_pipeline.evaluation.suite import evaluate_synthetic
    phase("imports")
    frame, schema = bench.table(args.table)
    train, holdout = bench.fixed_split(frame)
    config, plan = bench.release_plan(schema, args.generator, args.epsilon)
    phase("read and split")
    model, _, rows = fit_generator(train, schema.modelled_columns, config, plan, label=schema.label)
    phase("fit")
    synthetic = model.sample(rows or len(train), seed=2)
    phase("sample")
    evaluate_synthetic(real_train=train, holdout=holdout, synthetic=synthetic, schema=schema,
                       policy=load_policy(ROOT.parent / "data/release_policy.yaml"))
    phase("evaluation and gates")
    import subprocess

    commit = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True,
                            text=True).stdout.strip()
    import os

    print(json.dumps({"table": args.table, "generator": args.generator, "epsilon": args.epsilon, "commit": commit,
                      "machine": f"{platform.machine()}, {os.cpu_count()} cores", "load": round(os.getloadavg()[0], 1),
                      "date": time.strftime("%Y-%m-%d %H:%M"), "phases": phases}))


if __name__ == "__main__":
    main()
