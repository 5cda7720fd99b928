"""Empirical privacy audit of every generator on Adult: claimed against empirical ε.

Usage: python bench/privacy_audit.py [--generators dp-tvae dp-ctgan aim mst tvae ctgan]
           [--epsilons 1 3 10] [--canaries 1000] [--epochs N] [--threads 1] [--output FILE]
           [--calibration-study [--seeds 0 1]]

The one-run audit (synth_pipeline.privacy_audit): 1,000 canaries, each inserted with
probability 1/2 into the training split, one fit at the release's recommended config
(``recommend(preset="balanced")`` for max_rows), then the generator's default auditor
(gradient canaries for DP-SGD and the twins, measurement canaries for AIM and MST) or those
named by ``--auditors`` on that one fit. Each
(generator, ε) runs in its own process. Generators that are not installed yet (aim, mst)
are reported as skipped. ``--epochs`` overrides the recommended epochs (for example to
show how memorisation grows with training). Targets: no DP generator's lower bound above
its claimed ε; white-box DP-TVAE at ε = 10 at least a tenth of the claim; twins above 1.

``--calibration-study`` (with ``--seeds``) measures, instead, LiRA-style calibration of the
scores against reference fits, on the same canaries, coin flips and audited fit as the
audit: "none" (the audit's raw score), "no-canary" (score minus the score under one
reference fit of the same generator and config on the training split alone) and
"out-pair" (two reference fits, each on the training split plus an independent random
half of the canaries, the second on the other half; each canary is scored minus its score
under the reference that did not see it). Reference fits use seeds and coin flips drawn
independently of the audit's, so the calibrated scores stay a function of the audited
fit's output and of things independent of the inclusion coin flips: the bound stays valid.
The study reports the AUC of each score (a diagnostic that reads the coin flips; the
guesses do not) next to the audit's bound; it is not wired into the audit (BENCHMARKS.md
says why).
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


def one(generator: str, epsilon: float, canaries: int, epochs: int | None, threads: int, queue,
        auditors: tuple[str, ...] | None = None) -> None:
    import numpy as np
    import torch

    torch.set_num_threads(threads)
    from dataclasses import replace

    from synth_pipeline.data_io import apply_holdout, read_drop
    from synth_pipeline.privacy.config import DatasetFacts
    from synth_pipeline.privacy.recommendation import recommend
    from synth_pipeline.privacy_audit import default_auditor, run_privacy_audits
    from synth_pipeline.schema import load_schema
    from synth_pipeline.synthesizers import generator_class

    try:
        model_class = generator_class(generator)
    except ValueError as exc:
        queue.put([{"generator": generator, "epsilon": epsilon, "skipped": str(exc)}])
        return
    schema = load_schema(ROOT / "data/sample/adult_schema.yaml")
    frame = read_drop(ROOT / "data/sample/adult_sample.csv", schema)
    train, _ = apply_holdout(frame, np.random.default_rng(0).random(len(frame)) < 0.2)  # a fixed benchmark split: benchmarks release nothing
    config = recommend(DatasetFacts(schema.max_rows, len(schema.modelled_columns)), preset="balanced")
    config = replace(config, generator=generator, epsilon=epsilon, **({"epochs": epochs} if epochs else {}))
    auditors = auditors or (default_auditor(generator),)
    results = run_privacy_audits(train=train, schema=schema, config=config, auditors=auditors,
                                 canaries=canaries)
    queue.put([{"generator": generator, "epsilon": epsilon if model_class.is_dp else None,
                "auditor": r["auditor"], "claimed_epsilon": r["claimed_epsilon"],
                "empirical_epsilon_lower_bound": round(r["empirical_epsilon_lower_bound"], 3),
                "guesses": r["guesses"], "correct": r["correct"], "canaries": r["canaries"],
                "inserted": r["canaries_inserted"], "noise_multiplier": r["noise_multiplier"],
                "steps": r["steps"], "epochs": config.epochs, "batch_size": config.batch_size,
                "gate_passed": r["gate"]["passed"], "seconds": r["seconds"]} for r in results])


def calibration_study(generator: str, epsilon: float, seed: int, epochs: int | None, threads: int, queue) -> None:
    """One audited fit and its reference fits; every scoring's bound, correct/guesses, AUC, time.
    Internal and non-DP like the audit: models and synthetic rows live in memory only."""
    import numpy as np
    import pandas as pd
    import torch

    torch.set_num_threads(threads)
    from dataclasses import replace

    from sklearn.metrics import roc_auc_score

    from synth_pipeline.data_io import apply_holdout, read_drop
    from synth_pipeline.chain.training import fit_generator
    from synth_pipeline.privacy.config import DatasetFacts, plan_training
    from synth_pipeline.privacy.recommendation import recommend
    from synth_pipeline.privacy_audit import audit_guesses, make_canaries
    from synth_pipeline.privacy_audit.scoring import black_box_scores, white_box_scores
    from synth_pipeline.schema import load_schema
    from synth_pipeline.synthesizers import generator_class

    schema = load_schema(ROOT / "data/sample/adult_schema.yaml")
    frame = read_drop(ROOT / "data/sample/adult_sample.csv", schema)
    train, _ = apply_holdout(frame, np.random.default_rng(0).random(len(frame)) < 0.2)  # a fixed benchmark split: benchmarks release nothing
    config = recommend(DatasetFacts(len(train), len(schema.modelled_columns)), preset="balanced")
    config = replace(config, generator=generator, epsilon=epsilon, seed=seed, **({"epochs": epochs} if epochs else {}))
    columns = schema.modelled_columns
    names = [c.name for c in columns]
    m = 1000
    canaries = make_canaries(schema, m, seed=seed)[names]
    included = np.random.default_rng([seed, 0x1A]).random(m) < 0.5  # the audit's coin flips (run.py)

    def table(flags, salt):
        rows = pd.concat([train[names], canaries.loc[flags, names]], ignore_index=True)
        return rows.iloc[np.random.default_rng([salt, 0x5EED]).permutation(len(rows))].reset_index(drop=True)

    def fit(flags, fit_seed):
        began = time.perf_counter()
        rows = table(flags, fit_seed)
        cfg = replace(config, seed=fit_seed)
        model, _ = fit_generator(rows, columns, cfg, plan_training(cfg, len(rows), columns=columns))
        wb = white_box_scores(model, canaries) if hasattr(model, "record_scores") else None
        bb = black_box_scores(canaries, model.sample(len(train), seed=fit_seed + 1), columns)
        return {"white-box": wb, "black-box": bb}, time.perf_counter() - began

    audited, t_audit = fit(included, seed)
    delta = plan_training(config, len(train) + int(included.sum()), columns=columns).delta
    # Reference seeds and coin flips: fresh streams, independent of the audit's (seed, 0x1A).
    ref_seeds = [int(x) for x in np.random.SeedSequence([seed, 0x4EF]).generate_state(3) % 2**31]
    none_ref, t_none = fit(np.zeros(m, dtype=bool), ref_seeds[0])
    half = np.random.default_rng([seed, 0xBEEF]).random(m) < 0.5
    (ref_a, t_a), (ref_b, t_b) = fit(half, ref_seeds[1]), fit(~half, ref_seeds[2])
    rows = []
    for auditor in ("white-box", "black-box"):
        if audited[auditor] is None:
            continue
        raw = audited[auditor]
        out = np.where(half, ref_b[auditor], ref_a[auditor])  # the reference that did not see the canary
        for name, score, seconds in (("none", raw, t_audit), ("no-canary", raw - none_ref[auditor], t_audit + t_none),
                                     ("out-pair", raw - out, t_audit + t_a + t_b)):
            best = audit_guesses(score, included, delta=delta, seed=seed)
            rows.append({"generator": generator, "epsilon": epsilon if generator_class(generator).is_dp else None, "seed": seed, "epochs": config.epochs, "auditor": auditor, "calibration": name,
                         "empirical_epsilon_lower_bound": round(best["epsilon_lower_bound"], 3),
                         "correct": best["correct"], "guesses": best["guesses"],
                         "auc": round(float(roc_auc_score(included, score)), 3), "seconds": round(seconds, 1)})
    queue.put(rows)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--generators", nargs="+", default=DEFAULT_GENERATORS)
    parser.add_argument("--epsilons", type=float, nargs="+", default=[1.0, 3.0, 10.0])
    parser.add_argument("--canaries", type=int, default=1000)
    parser.add_argument("--epochs", type=int, help="override the recommended epochs")
    parser.add_argument("--threads", type=int, default=1, help="torch threads per fit (1: steadier on a shared box)")
    parser.add_argument("--output", help="also append the JSON lines to this file")
    parser.add_argument("--auditors", nargs="+", help="auditors of each fit (default: the generator's default "
                                                      "auditor, the sharpest)")
    parser.add_argument("--calibration-study", action="store_true",
                        help="measure reference-fit calibration of the scores instead (see the docstring)")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0], help="audit seeds of the calibration study")
    args = parser.parse_args()
    ctx = mp.get_context("spawn")
    if args.calibration_study:
        for generator in args.generators:
            for epsilon in (args.epsilons if generator not in ("tvae", "ctgan") else [args.epsilons[-1]]):
                for seed in args.seeds:
                    queue = ctx.Queue()
                    proc = ctx.Process(target=calibration_study, args=(generator, epsilon, seed, args.epochs, args.threads,
                                                                                queue))
                    proc.start()
                    for row in queue.get():
                        print(json.dumps({**row, "load_1min": round(os.getloadavg()[0], 2)}), flush=True)
                    proc.join()
        return
    results = []
    load_before = os.getloadavg()
    for generator in args.generators:
        # The twins claim no ε: one run each (their config's ε only sets nothing they use).
        for epsilon in (args.epsilons if not generator in ("tvae", "ctgan") else [args.epsilons[-1]]):
            queue = ctx.Queue()
            proc = ctx.Process(target=one, args=(generator, epsilon, args.canaries, args.epochs, args.threads, queue,
                                                 tuple(args.auditors) if args.auditors else None))
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
    tvae10 = {r["auditor"]: r["empirical_epsilon_lower_bound"] for r in dp
              if r["generator"] == "dp-tvae" and r["epsilon"] == 10 and r["auditor"] in ("white-box", "gradient")}
    twins = [r for r in audited if r["claimed_epsilon"] is None]
    print(json.dumps({
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, CPU", "date": time.strftime("%Y-%m-%d"),
        "load_before": [round(x, 2) for x in load_before], "load_after": [round(x, 2) for x in os.getloadavg()],
        "targets": {
            "no_dp_lower_bound_above_claim": all(r["empirical_epsilon_lower_bound"] <= r["claimed_epsilon"] for r in dp),
            "white_box_dp_tvae_eps10_at_least_a_tenth": {auditor: bound >= 1.0 for auditor, bound in tvae10.items()},
            "twins_above_1": {f"{r['generator']} {r['auditor']}": r["empirical_epsilon_lower_bound"] > 1
                              for r in twins},
        },
        "results": results}, indent=2))


if __name__ == "__main__":
    main()
