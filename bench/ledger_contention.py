"""How long a ledger reservation takes when N processes reserve on one ledger at once, and
whether the ledger ever overspends: on the DuckDB file and on PostgreSQL.

Usage: python bench/ledger_contention.py [--processes 8] [--per-process 125]
           [--backends duckdb postgresql] [--url postgresql://...]
Without --url, PostgreSQL is a throwaway local server (synth_pipeline_tests/helpers/postgres.py,
fsync off: a durable server adds its commit flush to every reservation). Prints one JSON object:
per backend and composition, latency quantiles per reservation (call to answer, waits and
retries included), accepted and refused counts, and the checks: spend within the budget,
one ledger event per accepted reservation (refusals wrote nothing), no run key twice.
"""

import argparse
import json
import multiprocessing as mp
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

PARAMS = {"noise_multiplier": 1.0, "sample_rate": 0.01, "steps": 100}
EPSILON, DELTA = 0.5, 1e-9  # 1,000 such δ stay inside the budget's 1e-5: ε is what runs out


def worker(location: str, index: int, count: int, barrier, queue) -> None:
    from synth_pipeline.privacy.ledger import BudgetExceededError, PrivacyLedger

    ledger = PrivacyLedger(location, lock_timeout_s=300)
    barrier.wait()
    for i in range(count):
        start = time.perf_counter()
        try:
            ledger.reserve(dataset="bench", run_key=f"{index}:{i}", mechanism="dp-sgd", params=PARAMS,
                           epsilon=EPSILON, delta=DELTA)
            ok = True
        except BudgetExceededError:
            ok = False
        queue.put((time.perf_counter() - start, ok))


def budget_for_half(total: int, composition: str) -> float:
    """A budget ε with room for about half of ``total`` reservations under ``composition``."""
    if composition == "basic":
        return EPSILON * total / 2
    from synth_pipeline.privacy.accounting import DpSgdPlan, epsilon_of

    return epsilon_of([DpSgdPlan(**PARAMS).dp_event()] * (total // 2), delta=1e-5)


def run(location: str, backend: str, processes: int, per_process: int, composition: str) -> dict:
    from synth_pipeline.privacy.ledger import PrivacyLedger

    total = processes * per_process
    budget = budget_for_half(total, composition)
    PrivacyLedger(location).set_budget("bench", epsilon=budget, delta=1e-5, composition=composition)
    ctx = mp.get_context("spawn")
    queue, barrier = ctx.Queue(), ctx.Barrier(processes + 1)
    procs = [ctx.Process(target=worker, args=(location, i, per_process, barrier, queue)) for i in range(processes)]
    for p in procs:
        p.start()
    barrier.wait()  # imports and opens done: time the reservations only
    wall = time.perf_counter()
    results = [queue.get() for _ in range(total)]
    wall = time.perf_counter() - wall
    for p in procs:
        p.join()
    latencies = sorted(r[0] for r in results)

    def q(f):
        return round(latencies[min(len(latencies) - 1, int(f * len(latencies)))] * 1000, 1)

    ledger = PrivacyLedger(location)
    spend, history = ledger.spend("bench"), ledger.history("bench")
    accepted = sum(r[1] for r in results)
    return {"backend": backend, "composition": composition, "processes": processes, "reservations": total,
            "accepted": accepted, "refused": total - accepted, "budget_epsilon": round(budget, 4),
            "spent_epsilon": round(spend.spent_epsilon, 4),
            # The ledger's own test: tight composition converts at the budget's δ; basic sums both.
            "within_budget": spend.spent_epsilon <= budget and (composition == "tight" or spend.basic_delta <= 1e-5),
            "one_event_per_acceptance": len(history) == accepted == spend.events,
            "run_keys_unique": len({h["run_key"] for h in history}) == len(history),
            "latency_ms_p50": q(0.5), "latency_ms_p95": q(0.95), "latency_ms_max": q(1.0),
            "wall_seconds": round(wall, 2), "reservations_per_second": round(total / wall, 1)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--processes", type=int, default=8)
    parser.add_argument("--per-process", type=int, default=125)
    parser.add_argument("--backends", nargs="+", default=["duckdb", "postgresql"], choices=["duckdb", "postgresql"])
    parser.add_argument("--url", help="an empty PostgreSQL database (default: a throwaway local server)")
    args = parser.parse_args()
    server, runs = None, []
    try:
        for backend in args.backends:
            for composition in ("basic", "tight"):
                if backend == "duckdb":
                    location = str(Path(tempfile.mkdtemp()) / "ledger.duckdb")
                elif args.url:
                    location = args.url
                else:
                    if server is None:
                        from synth_pipeline_tests.helpers.postgres import ThrowawayPostgres

                        server = ThrowawayPostgres().start()
                    location = server.new_database()
                runs.append(run(location, backend, args.processes, args.per_process, composition))
                print(json.dumps(runs[-1]), file=sys.stderr)
    finally:
        if server is not None:
            server.stop()
    print(json.dumps({"machine": f"{platform.machine()}, {mp.cpu_count()} cores", "date": time.strftime("%Y-%m-%d"),
                      "load_average_after": [round(x, 2) for x in os.getloadavg()],
                      "runs": runs}, indent=2))


if __name__ == "__main__":
    main()
