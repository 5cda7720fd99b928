"""Empirical privacy audit of every generator on Adult: claimed against empirical ε.

Usage: python bench/privacy_audit.py [--generators dp-tvae dp-ctgan aim mst tvae ctgan]
           [--epsilons 1 3 10] [--canaries 1000] [--epochs N] [--threads 1] [--output FILE]

The one-run audit (synth_pipeline.privacy_audit): 1,000 canaries, each inserted with
probability 1/2 into the training split, one fit at the release's recommended config
(``recommend(quality="balanced")`` for n), then both auditors on that one fit where they
apply (white box: DP-SGD generators and their twins; black box: every generator). Each
(generator, ε) runs in its own process. Generators that are not installed yet (aim, mst)
are reported as skipped. ``--epochs`` overrides the recommended epochs (for example to
show how memorisation grows with training). Targets: no DP generator's lower bound above
its claimed ε; white-box DP-TVAE at ε = 10 at least a tenth of the claim; twins above 1.
"""

import argparse
import json
import multiprocessing as mp
import os
import platform
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_GENERATORS = ["dp-tvae", "dp-ctgan", "aim", "mst", "tvae", "ctgan"]


def one(generator: str, epsilon: float, canaries: int, epochs: int | None, threads: int, queue) -> None:
    import torch

    torch.set_num_threads(threads)
    from dataclasses import replace

    from synth_pipeline.data_io import read_drop, split_holdout
    from synth_pipeline.privacy.config import DatasetFacts, recommend
    from synth_pipeline.privacy_audit import AUDITORS, run_privacy_audits
    from synth_pipeline.schema import load_schema
    from synth_pipeline.synthesizers import generator_class

    try:
        model_class = generator_class(generator)
    except ValueError as exc:
        queue.put([{"generator": generator, "epsilon": epsilon, "skipped": str(exc)}])
        return
    schema = load_schema(ROOT / "data/sample/adult_schema.yaml")
    frame = read_drop(ROOT / "data/sample/adult_sample.csv", schema)
    train, _ = split_holdout(frame, holdout_fraction=0.2, seed=0)
    config = recommend(DatasetFacts(len(train), len(schema.modelled_columns)), quality="balanced")
    config = replace(config, generator=generator, epsilon=epsilon, **({"epochs": epochs} if epochs else {}))
    auditors = AUDITORS if hasattr(model_class, "record_scores") else ("black-box",)
    results = run_privacy_audits(train=train, schema=schema, config=config, auditors=auditors,
                                 canaries=canaries)
    queue.put([{"generator": generator, "epsilon": epsilon if model_class.is_dp else None,
                "auditor": r["auditor"], "claimed_epsilon": r["claimed_epsilon"],
                "empirical_epsilon_lower_bound": round(r["empirical_epsilon_lower_bound"], 3),
                "guesses": r["guesses"], "correct": r["correct"], "canaries": r["canaries"],
                "inserted": r["canaries_inserted"], "noise_multiplier": r["noise_multiplier"],
                "steps": r["steps"], "epochs": config.epochs, "batch_size": config.batch_size,
                "gate_passed": r["gate"]["passed"], "seconds": r["seconds"]} for r in results])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--generators", nargs="+", default=DEFAULT_GENERATORS)
    parser.add_argument("--epsilons", type=float, nargs="+", default=[1.0, 3.0, 10.0])
    parser.add_argument("--canaries", type=int, default=1000)
    parser.add_argument("--epochs", type=int, help="override the recommended epochs")
    parser.add_argument("--threads", type=int, default=1, help="torch threads per fit (1: steadier on a shared box)")
    parser.add_argument("--output", help="also append the JSON lines to this file")
    args = parser.parse_args()
    ctx = mp.get_context("spawn")
    results = []
    load_before = os.getloadavg()
    for generator in args.generators:
        # The twins claim no ε: one run each (their config's ε only sets nothing they use).
        for epsilon in (args.epsilons if not generator in ("tvae", "ctgan") else [args.epsilons[-1]]):
            queue = ctx.Queue()
            proc = ctx.Process(target=one, args=(generator, epsilon, args.canaries, args.epochs, args.threads, queue))
            proc.start()
            rows = queue.get()
            proc.join()
            for row in rows:
                line = json.dumps({**row, "load_1min": round(os.getloadavg()[0], 2)})
                print(line, flush=True)
                if args.output:
                    with open(args.output, "a", encoding="utf-8") as handle:
                        handle.write(line + "\n")
            results.extend(rows)
    audited = [r for r in results if "skipped" not in r]
    dp = [r for r in audited if r["claimed_epsilon"] is not None]
    tvae10 = [r for r in dp if r["generator"] == "dp-tvae" and r["epsilon"] == 10 and r["auditor"] == "white-box"]
    twins = [r for r in audited if r["claimed_epsilon"] is None]
    print(json.dumps({
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, CPU", "date": time.strftime("%Y-%m-%d"),
        "load_before": [round(x, 2) for x in load_before], "load_after": [round(x, 2) for x in os.getloadavg()],
        "targets": {
            "no_dp_lower_bound_above_claim": all(r["empirical_epsilon_lower_bound"] <= r["claimed_epsilon"] for r in dp),
            "white_box_dp_tvae_eps10_at_least_a_tenth": (tvae10[0]["empirical_epsilon_lower_bound"] >= 1.0
                                                         if tvae10 else None),
            "twins_above_1": {f"{r['generator']} {r['auditor']}": r["empirical_epsilon_lower_bound"] > 1
                              for r in twins},
        },
        "results": results}, indent=2))


if __name__ == "__main__":
    main()
