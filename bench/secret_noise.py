"""Fit time of DP-SGD with secret noise (this project's: OS CSPRNG, four Box-Muller draws
per coordinate) against the old noise (Opacus' one torch.normal draw per coordinate from
the seeded global generator), on Adult; both with the secret Poisson sampler.

Usage: python bench/secret_noise.py [--generators dp-tvae dp-ctgan] [--epochs 3] [--repeats 2]
Both paths run in one process, alternated, so they share the machine's load. The old path
is rebuilt here for the measurement only (its noise is replayable: never for a release).
"""

import argparse
import json
import platform
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--generators", nargs="+", default=["dp-tvae", "dp-ctgan"])
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()

    from dataclasses import replace

    import numpy as np
    import torch

    from synth_pipeline.data_io import apply_holdout, read_drop
    from synth_pipeline.chain.training import fit_generator
    from synth_pipeline.privacy.config import DatasetFacts, plan_training
    from synth_pipeline.privacy.recommendation import recommend
    from synth_pipeline.schema import load_schema
    from synth_pipeline.synthesizers import training

    schema = load_schema(ROOT / "data/sample/adult_schema.yaml")
    frame = read_drop(ROOT / "data/sample/adult_sample.csv", schema)
    train, _ = apply_holdout(frame, np.random.default_rng(0).random(len(frame)) < 0.2)
    columns = schema.modelled_columns
    secret = training._secret_noise

    def seeded_noise(optimizer):
        """The old noise: one torch.normal per coordinate from torch's global generator."""
        from opacus.optimizers.optimizer import _check_processed_flag, _mark_as_processed

        def add_noise():
            std = optimizer.noise_multiplier * optimizer.max_grad_norm
            for p in optimizer.params:
                _check_processed_flag(p.summed_grad)
                p.grad = (p.summed_grad + torch.normal(0, std, size=p.summed_grad.shape)).view_as(p)
                _mark_as_processed(p.summed_grad)
        return add_noise

    rows = []
    for generator in args.generators:
        config = replace(recommend(DatasetFacts(schema.max_rows, len(columns))), generator=generator,
                         epochs=args.epochs, synthetic_rows=1000)
        plan = plan_training(config, schema.max_rows, columns=columns)
        times = {"secret": [], "seeded": []}
        for _ in range(args.repeats):
            for name, noise in (("secret", secret), ("seeded", seeded_noise)):
                training._secret_noise = noise
                start = time.perf_counter()
                fit_generator(train, columns, config, plan)
                times[name].append(time.perf_counter() - start)
        training._secret_noise = secret
        row = {"generator": generator, "epochs": args.epochs, "steps": plan.steps,
               **{f"{k}_seconds": round(min(v), 2) for k, v in times.items()}}
        row["overhead"] = round(row["secret_seconds"] / row["seeded_seconds"] - 1, 3)
        print(json.dumps(row), flush=True)
        rows.append(row)
    print(json.dumps({"machine": f"{platform.machine()}, CPU", "date": time.strftime("%Y-%m-%d"), "results": rows}))


if __name__ == "__main__":
    main()
