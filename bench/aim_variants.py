"""AIM variants against today's AIM, on bench/peers.py's split and scorer: levers for label skill.

Usage: python bench/aim_variants.py TABLE EPSILON FITS [--triple-weight W] [--rounds-per-column R]
  --triple-weight W: add every (label, a, b) triple to AIM's workload with weight W (default: none)
  --rounds-per-column R: budget AIM's rounds as R·d instead of the paper's 16·d
One JSON line per fit on stdout (skill kept, one- and two-way TVD, quality, fit seconds, rounds).
Patches aim.AIM in this process only (a benchmark: nothing is charged or released); the scores
read real rows without DP (internal figures). Results: BENCHMARKS.md, "Label skill at ε = 1".
"""

from __future__ import annotations

import argparse
import inspect
import itertools
import json
import tempfile
import textwrap
import time
from pathlib import Path

import peers  # bench/ is on the path of the script
from recommendation import release_plan


def patch(triple_weight: float | None, rounds_per_column: int | None) -> None:
    from synth_pipeline.synthesizers.marginal import aim

    if triple_weight is not None:
        pairs = aim.AIM._workload

        def workload(self, attrs):
            out = pairs(self, attrs)
            label = next((a for a in attrs if self._names((a,)) == [self.label]), None)
            if label is not None:
                for a, b in itertools.combinations([a for a in attrs if a != label], 2):
                    out[tuple(sorted((label, a, b)))] = triple_weight
            return out

        aim.AIM._workload = workload
    if rounds_per_column is not None:
        source = textwrap.dedent(inspect.getsource(aim.AIM._select_and_measure))
        assert "rounds = 16 * d" in source, "AIM's round budget moved: update this benchmark"
        namespace: dict = {}
        exec(source.replace("rounds = 16 * d", f"rounds = {rounds_per_column} * d"), aim.__dict__, namespace)
        aim.AIM._select_and_measure = namespace["_select_and_measure"]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("table")
    parser.add_argument("epsilon", type=float)
    parser.add_argument("fits", type=int)
    parser.add_argument("--triple-weight", type=float)
    parser.add_argument("--rounds-per-column", type=int)
    args = parser.parse_args()
    patch(args.triple_weight, args.rounds_per_column)
    from synth_pipeline.chain.training import fit_generator

    train, holdout, schema = peers.split(args.table)
    with tempfile.TemporaryDirectory() as work:
        for fit in range(args.fits):
            config, plan = release_plan(schema, "aim", args.epsilon)
            start = time.perf_counter()
            model, _, _ = fit_generator(train, schema.modelled_columns, config, plan, label=schema.label)
            seconds = time.perf_counter() - start
            path = Path(work) / "synthetic.csv"
            model.sample(len(train), seed=fit).to_csv(path, index=False)
            scores = peers.score(train, holdout, str(path), schema)
            print(json.dumps({"table": args.table, "epsilon": args.epsilon, "triple_weight": args.triple_weight,
                              "rounds_per_column": args.rounds_per_column or 16, "fit_seconds": round(seconds, 1),
                              "rounds": model.rounds,
                              **{k: scores[k] for k in ("skill_kept", "tvd_1way", "tvd_2way", "quality_score")}}),
                  flush=True)


if __name__ == "__main__":
    main()
