"""Opacus per-sample gradient modes on the project's models: seconds per DP-SGD epoch.

Usage: python bench/grad_sample_modes.py [--epochs 2]
Times DP-TVAE and DP-CTGAN on Adult (24,130 training rows, batch 482) with each mode that
Opacus 1.6 offers for plain Linear stacks, and the non-private twins for the DP/plain ratio.
"""

import argparse
import json
import platform
import time
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main(epochs: int) -> dict:
    from synth_pipeline.data_io import apply_holdout, read_drop
    from synth_pipeline.privacy.config import DatasetFacts, plan_training
    from synth_pipeline.privacy.recommendation import recommend
    from synth_pipeline.chain.training import fit_generator
    from synth_pipeline.schema import load_schema
    from synth_pipeline.synthesizers import generator_class

    import numpy as np

    schema = load_schema(ROOT / "data/sample/adult_schema.yaml")
    train, _ = apply_holdout(read_drop(ROOT / "data/sample/adult_sample.csv", schema), np.random.default_rng(0).random(len(read_drop(ROOT / "data/sample/adult_sample.csv", schema))) < 0.2)  # a fixed benchmark split: benchmarks release nothing
    rows = []
    for name in ("dp-tvae", "tvae", "dp-ctgan", "ctgan"):
        modes = ["ghost", "hooks", "ew", "functorch"] if name.startswith("dp-") else ["(none)"]
        for mode in modes:
            config = replace(recommend(DatasetFacts(len(train), 15)), generator=name, epochs=epochs)
            plan = plan_training(config, len(train), columns=schema.modelled_columns)
            model_class = generator_class(name)
            default_mode = model_class.grad_sample_mode
            if mode != "(none)":
                model_class.grad_sample_mode = mode
            start = time.perf_counter()
            try:
                fit_generator(train, schema.modelled_columns, config, plan)
                seconds = (time.perf_counter() - start) / epochs
                rows.append({"generator": name, "mode": mode, "seconds_per_epoch": round(seconds, 2)})
            except Exception as exc:  # a mode Opacus cannot apply to this model
                rows.append({"generator": name, "mode": mode, "error": f"{type(exc).__name__}: {exc}"[:160]})
            finally:
                model_class.grad_sample_mode = default_mode
            print(json.dumps(rows[-1]), flush=True)
    return {"machine": f"{platform.machine()}, CPU", "date": time.strftime("%Y-%m-%d"), "results": rows}


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--epochs", type=int, default=2)
    print(json.dumps(main(parser.parse_args().epochs), indent=2))
