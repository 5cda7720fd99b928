"""How long a ledger reservation takes when N processes reserve on one file at once.

Usage: python bench/ledger_contention.py [--processes 8] [--per-process 25]
Prints one JSON object: latency quantiles per reservation, accepted and refused counts.
"""

import argparse
import json
import multiprocessing as mp
import platform
import tempfile
import time
from pathlib import Path

PARAMS = {"noise_multiplier": 1.0, "sample_rate": 0.01, "steps": 100}


def worker(path: str, index: int, count: int, queue) -> None:
    from synth_pipeline.privacy.ledger import BudgetExceededError, PrivacyLedger

    ledger = PrivacyLedger(path)
    for i in range(count):
        start = time.perf_counter()
        try:
            ledger.reserve(dataset="bench", run_key=f"{index}:{i}", mechanism="dp-sgd", params=PARAMS,
                           epsilon=0.5, delta=1e-7)
            ok = True
        except BudgetExceededError:
            ok = False
        queue.put((time.perf_counter() - start, ok))


def run(processes: int, per_process: int, composition: str) -> dict:
    from synth_pipeline.privacy.ledger import PrivacyLedger

    path = str(Path(tempfile.mkdtemp()) / "ledger.duckdb")
    # Room for about half of the attempts, so both accepted and refused paths are timed.
    PrivacyLedger(path).set_budget("bench", epsilon=0.5 * processes * per_process / 2, delta=1e-5,
                                   composition=composition)
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    procs = [ctx.Process(target=worker, args=(path, i, per_process, queue)) for i in range(processes)]
    wall = time.perf_counter()
    for p in procs:
        p.start()
    results = [queue.get() for _ in range(processes * per_process)]
    for p in procs:
        p.join()
    wall = time.perf_counter() - wall
    latencies = sorted(r[0] for r in results)

    def q(f):
        return round(latencies[min(len(latencies) - 1, int(f * len(latencies)))] * 1000, 1)

    return {"composition": composition, "processes": processes, "reservations": len(results),
            "accepted": sum(r[1] for r in results), "refused": sum(not r[1] for r in results),
            "latency_ms_p50": q(0.5), "latency_ms_p95": q(0.95), "latency_ms_max": q(1.0),
            "wall_seconds": round(wall, 2)}


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--processes", type=int, default=8)
    parser.add_argument("--per-process", type=int, default=25)
    args = parser.parse_args()
    out = {"machine": f"{platform.machine()}, {mp.cpu_count()} cores", "date": time.strftime("%Y-%m-%d"),
           "runs": [run(args.processes, args.per_process, c) for c in ("basic", "tight")]}
    print(json.dumps(out, indent=2))
