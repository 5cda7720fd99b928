"""DP-TVAE on Adult: utility against the non-private baseline, fit time, sampling speed, memory.

Usage: python bench/dp_tvae_adult.py [--epsilons 1 3 10]
Adult comes from the bundled sample (identifiers dropped); 80/20 train/holdout split.
TRTR (train on real, test on real holdout) is the non-private baseline of TSTR.
"""

import argparse
import json
import platform
import resource
import time
from pathlib import Path

from synth_pipeline.data_io import read_drop, split_holdout
from synth_pipeline.evaluation.utility import tstr
from synth_pipeline.privacy.config import DatasetFacts, plan_training, recommend
from synth_pipeline.schema import load_schema
from synth_pipeline.synthesizers.dp_tvae import DPTVAE
from synth_pipeline.synthesizers.transforms import TableCodec

ROOT = Path(__file__).resolve().parents[1]


def main(epsilons: list[float]) -> dict:
    schema = load_schema(ROOT / "data/sample/adult_schema.yaml")
    frame = read_drop(ROOT / "data/sample/adult_sample.csv", schema)
    train, holdout = split_holdout(frame, holdout_fraction=0.2, seed=0)
    columns = schema.modelled_columns
    rows = []
    for epsilon in epsilons:
        config = recommend(DatasetFacts(len(train), len(columns)), quality="balanced")
        config = config.__class__(**{**config.as_dict(), "epsilon": epsilon})
        plan = plan_training(config, len(train))
        model = DPTVAE(TableCodec.from_schema(columns))
        start = time.perf_counter()
        model.fit(train[[c.name for c in columns]], config=config, plan=plan)
        fit_seconds = time.perf_counter() - start
        start = time.perf_counter()
        model.sample(100_000, seed=1)
        sample_seconds = time.perf_counter() - start
        synthetic = model.sample(len(train), seed=2)
        utility = tstr(real_train=train, holdout=holdout, synthetic=synthetic, schema=schema)
        rows.append({"epsilon": epsilon, "noise_multiplier": round(plan.noise_multiplier, 3), "steps": plan.steps,
                     "batch_size": config.batch_size, "epochs": config.epochs,
                     "tstr_auc": round(utility["tstr_auc"], 4), "trtr_auc": round(utility["trtr_auc"], 4),
                     "auc_ratio": round(utility["auc_ratio"], 4), "fit_seconds": round(fit_seconds, 1),
                     "train_rows_per_second": round(plan.steps * plan.sample_rate * len(train) / fit_seconds),
                     "sample_100k_seconds": round(sample_seconds, 2),
                     "opacus_epsilon": round(model.training_summary["opacus_epsilon_dp_sgd_only"], 4)})
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"machine": f"{platform.machine()}, CPU", "date": time.strftime("%Y-%m-%d"),
            "train_rows": len(train), "holdout_rows": len(holdout), "results": rows,
            "peak_rss_mb": round(peak_mb)}


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--epsilons", type=float, nargs="+", default=[1.0, 3.0, 10.0])
    print(json.dumps(main(parser.parse_args().epsilons), indent=2))
