"""Command 1's demo, N times from a fresh state: does every gate pass, and by what margin?

Usage: python bench/demo_runs.py [--runs 20] [--checkout PATH]
Runs `synth-pipeline demo` in CHECKOUT (default: this repository) with its Dagster
storage, ledger, outputs and incoming folder removed before each run (so each run is a
first run: a fresh ledger, a fresh secret split and fresh DP noise), and prints one JSON
line per run: exit code, wall seconds, and per gate its point value, the value it
compared (the upper 95% bound for the attack ceilings) and its threshold. The margins go
to BENCHMARKS.md ("The demo, 20 fresh runs"). Reads the internal review of each run
(not DP, internal): run it on the bundled sample only.
"""

import argparse
import json
import shutil
import subprocess
import time
from pathlib import Path


def gates_of(report: Path) -> list[dict]:
    def find(node):
        if isinstance(node, dict):
            gates = node.get("gates")
            if isinstance(gates, list) and gates and "threshold" in gates[0]:
                return gates
            for value in node.values():
                found = find(value)
                if found:
                    return found
        return None

    return [{k: g.get(k) for k in ("gate", "value", "compared", "threshold", "passed", "side")}
            for g in find(json.loads(report.read_text(encoding="utf-8"))) or []]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--checkout", default=str(Path(__file__).resolve().parents[1]))
    args = parser.parse_args()
    root = Path(args.checkout)
    for i in range(1, args.runs + 1):
        for folder in ("data/state", "data/outputs", "data/incoming"):
            shutil.rmtree(root / folder, ignore_errors=True)
        start = time.perf_counter()
        done = subprocess.run([str(root / ".venv/bin/synth-pipeline"), "demo"], cwd=root, capture_output=True,
                              text=True)
        seconds = round(time.perf_counter() - start, 1)
        reports = sorted(root.glob("data/outputs/*/*/*/internal/release_report.json"))
        decisions = sorted(root.glob("data/outputs/*/*/*/internal/release_decision.json"))
        decision = json.loads(decisions[0].read_text(encoding="utf-8")) if decisions else {}
        try:
            result = json.loads(done.stdout)
        except json.JSONDecodeError:
            result = {}
        print(json.dumps({"run": i, "exit": done.returncode, "seconds": seconds, "success": result.get("success"),
                          "reasons": result.get("reasons"), "decision": decision.get("reason"), "stderr_tail": done.stderr.splitlines()[-5:]
                          if done.returncode else None,
                          "gates": gates_of(reports[0]) if reports else []}), flush=True)


if __name__ == "__main__":
    main()
