"""Every generator on Adult: utility against the non-private baseline, speed, memory.

Usage: python bench/generators_adult.py [--generators dp-tvae dp-ctgan aim mst tvae ctgan] [--epsilons 1 3 10]
Each (generator, ε) runs in its own process, so peak memory is per fit. Adult comes from
the bundled sample (identifiers dropped); a fixed 80/20 train/holdout split (benchmarks
release nothing; releases draw a secret split per run). Planned as a release is: sampling
rate, steps, δ and the recommendation from the schema's max_rows (n is private), the
synthetic table's size a DP estimate of the training rows, every DP draw secret. TRTR (train on
real, test on the real holdout) is the non-private baseline of TSTR; the non-private twins
are the non-private baseline of the generators.
"""

import argparse
import itertools
import json
import multiprocessing as mp
import platform
import time
from pathlib import Path

from recommendation import peak_rss_mb  # bench/ is on the path of the script and its children

ROOT = Path(__file__).resolve().parents[1]


def mean_pair_error(real, synthetic, columns) -> float:
    """Mean total-variation distance of all two-way marginals (numeric columns binned over
    their declared bounds), real holdout against synthetic."""
    import numpy as np

    from synth_pipeline.evaluation.features import discrete_codes

    codes = {c.name: discrete_codes([real, synthetic], c) for c in columns}
    errors = []
    for a, b in itertools.combinations(columns, 2):
        ((ra, sa), ka), ((rb, sb), kb) = codes[a.name], codes[b.name]
        p = np.bincount(ra * kb + rb, minlength=ka * kb) / len(ra)
        q = np.bincount(sa * kb + sb, minlength=ka * kb) / len(sa)
        errors.append(0.5 * np.abs(p - q).sum())
    return float(np.mean(errors))


def one(generator: str, epsilon: float | None, queue) -> None:
    from dataclasses import replace

    import numpy as np

    from synth_pipeline.data_io import apply_holdout, read_drop
    from synth_pipeline.evaluation.fidelity import quality
    from synth_pipeline.evaluation.utility import tstr
    from synth_pipeline.privacy.config import DatasetFacts, plan_training
    from synth_pipeline.privacy.recommendation import recommend
    from synth_pipeline.chain.training import fit_generator
    from synth_pipeline.schema import load_schema

    schema = load_schema(ROOT / "data/sample/adult_schema.yaml")
    frame = read_drop(ROOT / "data/sample/adult_sample.csv", schema)
    train, holdout = apply_holdout(frame, np.random.default_rng(0).random(len(frame)) < 0.2)  # a fixed benchmark split: benchmarks release nothing
    columns = schema.modelled_columns
    config = recommend(DatasetFacts(schema.max_rows, len(columns)), preset="balanced")
    config = replace(config, generator=generator, epsilon=epsilon or config.epsilon)
    plan = plan_training(config, schema.max_rows, columns=columns)
    start = time.perf_counter()
    model, _, rows = fit_generator(train, columns, config, plan)
    fit_seconds = time.perf_counter() - start
    start = time.perf_counter()
    model.sample(100_000, seed=1)
    sample_seconds = time.perf_counter() - start
    synthetic = model.sample(rows or len(train), seed=2)
    utility = tstr(real_train=train, holdout=holdout, synthetic=synthetic, schema=schema)
    fidelity = quality(holdout, synthetic, schema)
    marginal = plan.rho is not None
    schedule = ({"rho": round(plan.rho, 5), "cliques": len(model.training_summary["cliques"]),
                 "measurements": model.training_summary["measurements"]} if marginal else
                {"noise_multiplier": round(plan.noise_multiplier, 3), "steps": plan.steps, "epochs": config.epochs,
                 "batch_size": config.batch_size,
                 "seconds_per_epoch": round(fit_seconds / config.epochs, 2),
                 "train_rows_per_second": round(config.epochs * len(train) / fit_seconds)})
    queue.put({
        "generator": generator, "epsilon": epsilon if model.is_dp else None, **schedule,
        "synthetic_rows": len(synthetic), "train_rows": len(train),
        "mean_pair_tv_error": round(mean_pair_error(holdout, synthetic, columns), 4),
        "tstr_auc": round(utility["tstr_auc"], 4),
        "trtr_auc": round(utility["trtr_auc"], 4), "auc_ratio": round(utility["auc_ratio"], 4),
        "quality_score": round(fidelity["quality_score"], 4), "column_shapes": round(fidelity["column_shapes"], 4),
        "column_pair_trends": round(fidelity["column_pair_trends"], 4),
        "fit_seconds": round(fit_seconds, 1),
        "sample_100k_seconds": round(sample_seconds, 2),
        "peak_rss_mb": peak_rss_mb(),
    })


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--generators", nargs="+", default=["dp-tvae", "dp-ctgan", "aim", "mst", "tvae", "ctgan"])
    parser.add_argument("--epsilons", type=float, nargs="+", default=[1.0, 3.0, 10.0])
    args = parser.parse_args()
    from synth_pipeline.privacy.config import DP_GENERATORS

    ctx = mp.get_context("spawn")
    results = []
    for generator in args.generators:
        for epsilon in (args.epsilons if generator in DP_GENERATORS else [None]):
            queue = ctx.Queue()
            proc = ctx.Process(target=one, args=(generator, epsilon, queue))
            proc.start()
            row = queue.get()
            proc.join()
            print(json.dumps(row), flush=True)
            results.append(row)
    print(json.dumps({"machine": f"{platform.machine()}, {mp.cpu_count()} cores, CPU",
                      "date": time.strftime("%Y-%m-%d"), "results": results}, indent=2))


if __name__ == "__main__":
    main()
