"""DP-TVAE and DP-CTGAN seconds per DP-SGD epoch on a GPU against the CPU, for a machine that has one.

Usage: python bench/gpu_epochs.py [--epochs 3] [--devices cuda cpu]
Skipped (one JSON line saying so, exit 0) when CUDA is asked for and torch sees none;
`--devices cpu` runs the CPU side alone. On a GPU machine install torch 2.13.0's CUDA build before the project (README,
"GPU"). The table is Adult's training split (the bundled sample, a fixed benchmark split:
benchmarks release nothing); the config is the recommendation for its size, the generator
swapped. The device is chosen the project's one way (SYNTH_PIPELINE_DEVICE, read by
synthesizers/device.py).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def seconds_per_epoch(name: str, device: str, epochs: int, train, schema) -> float:
    from synth_pipeline.chain.training import fit_generator
    from synth_pipeline.privacy.config import DatasetFacts, plan_training
    from synth_pipeline.privacy.recommendation import recommend

    os.environ["SYNTH_PIPELINE_DEVICE"] = device
    config = replace(recommend(DatasetFacts(len(train), len(schema.modelled_columns))), generator=name, epochs=epochs)
    plan = plan_training(config, schema.max_rows, columns=schema.modelled_columns)
    start = time.perf_counter()
    fit_generator(train, schema.modelled_columns, config, plan, label=schema.label)
    return (time.perf_counter() - start) / epochs


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--devices", nargs="+", default=["cuda", "cpu"])
    args = parser.parse_args()
    import numpy as np
    import torch

    if "cuda" in args.devices and not torch.cuda.is_available():  # `--devices cpu` still runs here
        print(json.dumps({"skipped": "torch sees no CUDA device", "torch": torch.__version__}))
        return
    from synth_pipeline.data_io import apply_holdout, read_drop
    from synth_pipeline.schema import load_schema

    schema = load_schema(ROOT / "data/sample/adult_schema.yaml")
    frame = read_drop(ROOT / "data/sample/adult_sample.csv", schema)
    train, _ = apply_holdout(frame, np.random.default_rng(0).random(len(frame)) < 0.2)
    for name in ("dp-tvae", "dp-ctgan"):
        for device in args.devices:
            line = {"date": time.strftime("%Y-%m-%d"), "machine": platform.machine(), "generator": name,
                    "device": device if device == "cpu" else torch.cuda.get_device_name(0),
                    "seconds_per_epoch": round(seconds_per_epoch(name, device, args.epochs, train, schema), 2)}
            print(json.dumps(line), flush=True)


if __name__ == "__main__":
    main()
