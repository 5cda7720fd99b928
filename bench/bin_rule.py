"""Bins that follow the budget, against today's fixed cap (MAX_BINS = 32), on bench/peers.py's split and scorer.

Usage: python bench/bin_rule.py [--tables star males ...] [--epsilons 1 0.3] [--generators aim mst]
           [--rules today cap split] [--fits 4] [--out bench/results_bin_rule.jsonl]

Rules (the candidates' code: bench/dp_bins_budget.py, synthesizers/dp_bins.dp_bins with the
bin choice changed, reusing its measuring helpers):
- ``today``: synthesizers/dp_bins.py as it is (split while a node clears 3σ_bin, at most 32 bins);
- ``cap``: at most ⌊noisy inside count / (k · 3 · σ_pair)⌋ bins (2 to 32), k the label's declared
  categories, σ_pair the Gaussian σ the generator's plan gives a two-way measurement;
- ``split``: a node splits only while its noisy count clears max(3σ_bin, k · 3 · σ_pair).
σ_pair is public (the generator's ρ left after the bins, d, its round count): AIM's first-round σ,
Δ·√(1/(2·0.9·ρ_left/(16·d))) (annealing lowers it later); MST's, Δ·√(1/(2·(ρ_left/3)/(d−1))).
Both rules post-process the noisy counts the binning already bought: nothing more is read.

Fits run in this process, the rules interleaved fit by fit (same load for each); fresh DP noise
every fit (the secret source). Scores: ``peers.score`` (TSTR/TRTR with HistGradientBoosting, skill
kept, quality, one- and two-way TVD), which read real rows without DP (internal figures). One JSON
line per fit is appended to ``--out``; fits already there count, so the run resumes.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from collections import Counter
from pathlib import Path

import dp_bins_budget  # bench/ is on the path of the script
import peers
from recommendation import release_plan

ROOT = Path(__file__).resolve().parents[1]
RULE = {"name": "today"}
CONTEXT: dict = {}


def pair_sigma(generator: str, budget, bins_rho: float, d: int) -> float:
    """Public: the σ the generator's plan gives its (first) two-way measurements."""
    from synth_pipeline.synthesizers.marginal import aim

    left = budget.rho - bins_rho
    if generator == "aim":
        return budget.sigma_for((1 - aim.SELECTION_SHARE) * left / (16 * d))
    if generator == "mst":
        return budget.sigma_for(left / 3 / max(d - 1, 1))
    raise ValueError(generator)


def label_cells(codec, label: str | None) -> int:
    """Public schema: the label's declared categories (2 when there is no discrete label)."""
    from synth_pipeline.synthesizers.transforms import NULL, OTHER

    c = next((c for c in codec.codecs if c.name == label), None)
    if c is None or c.kind != "discrete":
        return 2
    return max(2, sum(x not in (OTHER, NULL) for x in c.categories))


def patch() -> None:
    from synth_pipeline.synthesizers import dp_bins
    from synth_pipeline.synthesizers.marginal.model import MarginalSynthesizer

    original_bins, original_fit = dp_bins.dp_bins, MarginalSynthesizer.fit

    def fit(self, frame, *, label=None, **kwargs):
        CONTEXT.update(generator=self.name, label=label)
        return original_fit(self, frame, label=label, **kwargs)

    def bins(frame, codec, budget, *, rho, rng):
        sigma = pair_sigma(CONTEXT["generator"], budget, rho, len(codec.codecs))
        CONTEXT.update(pair_sigma=sigma, label_cells=label_cells(codec, CONTEXT["label"]))
        if RULE["name"] == "today":
            return original_bins(frame, codec, budget, rho=rho, rng=rng)
        dp_bins_budget.BIN_RULE = RULE["name"]
        return dp_bins_budget.dp_bins(frame, codec, budget, rho=rho, rng=rng, pair_sigma=sigma,
                                      label_cells=CONTEXT["label_cells"])

    MarginalSynthesizer.fit = fit
    dp_bins.dp_bins = bins  # model.py calls binning.dp_bins(...) through the module


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tables", nargs="+", default=["star", "males", "randhie", "treatment", "adult", "diamonds"])
    parser.add_argument("--epsilons", type=float, nargs="+", default=[1.0, 0.3])
    parser.add_argument("--generators", nargs="+", default=["aim", "mst"])
    parser.add_argument("--rules", nargs="+", default=["today", "cap", "split"])
    parser.add_argument("--fits", type=int, default=4)
    parser.add_argument("--out", default=str(ROOT / "bench/results_bin_rule.jsonl"))
    args = parser.parse_args()
    patch()
    from synth_pipeline.chain.training import fit_generator

    out = Path(args.out)
    done = Counter()
    if out.exists():
        done = Counter((r["table"], r["epsilon"], r["generator"], r["rule"]) for r in map(json.loads, out.open()))
    for name in args.tables:
        train, holdout, schema = peers.split(name)
        for epsilon in args.epsilons:
            for generator in args.generators:
                for fit in range(args.fits):
                    for rule in args.rules:
                        if done[(name, epsilon, generator, rule)] > fit:
                            continue
                        RULE["name"] = rule
                        config, plan = release_plan(schema, generator, epsilon)
                        start = time.perf_counter()
                        model, _, _ = fit_generator(train, schema.modelled_columns, config, plan, label=schema.label)
                        seconds = time.perf_counter() - start
                        with tempfile.TemporaryDirectory() as work:
                            path = Path(work) / "synthetic.csv"
                            model.sample(len(train), seed=fit).to_csv(path, index=False)
                            scores = peers.score(train, holdout, str(path), schema)
                        columns = (model.training_summary.get("binning") or {}).get("columns", {})
                        row = {"table": name, "epsilon": epsilon, "generator": generator, "rule": rule, "fit": fit,
                               **{k: scores[k] for k in ("skill_kept", "trtr_auc", "tstr_auc", "auc_ratio",
                                                         "quality_score", "tvd_1way", "tvd_2way")},
                               "bins": {c: s["bins"] for c, s in columns.items()},
                               "max_bins": {c: s.get("max_bins", 32) for c, s in columns.items()},
                               "pair_sigma": round(CONTEXT["pair_sigma"], 2), "label_cells": CONTEXT["label_cells"],
                               "rounds": getattr(model, "rounds", None), "fit_seconds": round(seconds, 2),
                               "train_rows": len(train), "date": time.strftime("%Y-%m-%d %H:%M:%S"),
                               "load": round(os.getloadavg()[0], 2)}
                        with out.open("a", encoding="utf-8") as f:
                            f.write(json.dumps(row) + "\n")
                        print(json.dumps(row), flush=True)


if __name__ == "__main__":
    main()
