"""Two releases at once against one alone: do concurrent runs share the machine or thrash it?

Usage: python bench/concurrent_runs.py [--generator aim] [--epsilon 1] [--repeats 1]

Runs `synth-pipeline synthesize` on the bundled Adult sample (every gate, a ledger of its own
per run) alone with every core, then two at once with the thread budget the Dagster layer gives
when the instance allows two concurrent runs (cores / 2 each), then two at once with no budget
(each library starts one thread per core). Prints and appends one JSON line per scenario:
wall seconds of the slower run, and the ratio to one run alone (the target: ≤ 2.2).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "data" / "sample"


def start(threads: int | None, generator: str, epsilon: float, work: Path) -> subprocess.Popen:
    work.mkdir(parents=True, exist_ok=True)
    cmd = [sys.executable, "-m", "synth_pipeline.cli", "--quiet", "synthesize", "--input", str(SAMPLE / "adult_sample.csv"),
           "--schema", str(SAMPLE / "adult_schema.yaml"), "--generator", generator, "--epsilon", str(epsilon),
           "--ledger", str(work / "ledger.duckdb"), "--outputs", str(work / "out"), "--state", str(work / "state"),
           ] + ([] if threads is None else ["--threads", str(threads)])
    env = {k: v for k, v in os.environ.items() if k not in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")}
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT, env=env)


def timed(threads: list[int | None], generator: str, epsilon: float) -> list[float]:
    base = Path(tempfile.mkdtemp(prefix="concurrent-"))
    t0 = time.monotonic()
    procs = [start(t, generator, epsilon, base / f"run{i}") for i, t in enumerate(threads)]
    seconds: list[float | None] = [None] * len(procs)
    while None in seconds:  # each run's own finish time (pipes are small: --quiet, one JSON object)
        for i, p in enumerate(procs):
            if seconds[i] is None and p.poll() is not None:
                seconds[i] = round(time.monotonic() - t0, 1)
                if p.returncode not in (0, 1):
                    raise SystemExit(f"synthesize failed ({p.returncode}): {p.stderr.read()[-2000:]}")
        time.sleep(0.2)
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--generator", default="aim")
    parser.add_argument("--epsilon", type=float, default=1.0)
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--out", default=str(ROOT / "bench" / "results_concurrent_runs.jsonl"))
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    from synth_pipeline.threads import available_cores

    cores = available_cores()
    for _ in range(args.repeats):
        alone = max(timed([cores], args.generator, args.epsilon))
        rows = [{"scenario": "one run alone", "threads": cores, "seconds": alone}]
        for name, budget in (("two at once, cores/2 threads each", max(1, cores // 2)),
                             ("two at once, no thread budget", None)):
            both = timed([budget, budget], args.generator, args.epsilon)
            rows.append({"scenario": name, "threads": budget, "seconds": max(both), "each": both,
                         "ratio_to_alone": round(max(both) / alone, 2)})
        for row in rows:
            line = {"date": time.strftime("%Y-%m-%d %H:%M"), "machine": f"{platform.machine()}, {cores} cores",
                    "load_1min": round(os.getloadavg()[0], 2), "generator": args.generator, "epsilon": args.epsilon,
                    **row}
            print(json.dumps(line))
            with open(args.out, "a", encoding="utf-8") as handle:
                handle.write(json.dumps(line) + "\n")


if __name__ == "__main__":
    main()
