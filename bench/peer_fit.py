"""Fit one dpmm 0.1.9 generator to a training split and sample from it: the peer side of bench/peers.py.

Runs in the peer's own venv only (``bash bench/peer_setup.sh`` makes bench/.venv-peer); imports dpmm,
never synth_pipeline.

Usage: bench/.venv-peer/bin/python bench/peer_fit.py --train CSV --domain JSON --generator aim|mst|privbayes
           --epsilon E --delta D --rows N --out CSV [--meta JSON] [--proc-epsilon 0.1]

The domain JSON maps each column, in order, to ``{"bounds": [lo, hi], "integer": bool}`` or
``{"categories": [...]}``; it is passed to dpmm as its public domain. How dpmm is called, exactly::

    pipe = {"aim": AIMPipeline, "mst": MSTPipeline, "privbayes": PrivBayesPipeline}[generator](
        epsilon=E - proc_epsilon, delta=D, proc_epsilon=proc_epsilon, n_jobs=1)   # dpmm.pipelines
    pipe.fit(train, domain={col: {"lower": lo, "upper": hi} | {"categories": [...]}})
    synthetic = pipe.generate(n_records=N)

Everything else is dpmm's default: ``binner_type`` None with ``proc_epsilon`` set means PrivTree
(``PrivTreeBinner``, ``n_bins="auto"`` = ceil(2·n^(1/3)·sigmoid(ε_col)), at least 5), ``compress=True``
(drops cells whose noisy one-way count is under 3σ: post-processing), ``max_model_size=None`` (the
pipeline passes None, so AIM has no model-size cap; its ``max_cells`` stays 10,000), rounds = 16·columns
(AIM), degree 2, private-pgm inference iterations 1000 (AIM) / 5000 (MST, PrivBayes). ``n_jobs=1`` is
what dpmm's default (cpu_count − 1) gives on 2 cores, fixed here so that a larger machine does not run
dpmm's process pools beside the project's one-process fits.

Budget: dpmm composes sequentially: the generator spends (ε_gen, δ) in zCDP (``cdp_rho``), PrivTree
spends pure ``proc_epsilon`` (dpmm's default 0.1, split equally over the numeric columns; a column
with declared bounds gives its whole share to the tree, one without would halve it to buy DP bounds).
``--epsilon`` is the TOTAL: the generator gets E − proc_epsilon, so both sides of the benchmark stop
at the same ε. With no numeric column PrivTree spends nothing and the generator gets all of E.
Declared bounds are honoured (``Binner.get_bounds`` returns them, no ``approx_bounds`` call; the meta's
``bounds_honoured`` checks the outer bin edges), and declared categories are used as given (no
"PrivacyLeakage" warning). Numeric values are decoded uniformly inside their PrivTree bin (rounded for
integer columns), as this project's equal-width bins are.

Reads of private values (benchmark: nothing is released): dpmm's mechanisms are DP (PrivTree's
Laplace counts, Gaussian marginals and exponential-mechanism picks from OpenDP's samplers); dpmm
also reads, without DP, the row count n (PrivTree's ``theta = n / n_bins`` and ``n_bins="auto"``),
which columns hold a single value (dropped as static and restored as that value), and for a column
with missing values one real value used as the fill-in of its missing cells. The fit's randomness
is dpmm's ``RandomState()`` from OS entropy (no seed is passed).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from importlib.metadata import version

import numpy as np
import pandas as pd

PROC_EPSILON = 0.1  # dpmm's MMPipeline default: PrivTree's pure ε, on top of the generator's


def read_train(path: str, domain: dict) -> pd.DataFrame:
    """Categorical columns as text (only an empty cell missing), numeric as numbers (integers as
    int64 when nothing is missing), in the domain's column order."""
    cats = [c for c, d in domain.items() if "categories" in d]
    frame = pd.read_csv(path, dtype={c: str for c in cats}, keep_default_na=False,
                        na_values={c: [""] if c in cats else ["", "NA", "NaN", "nan"] for c in domain})
    for col, spec in domain.items():
        if "bounds" in spec and spec.get("integer") and not frame[col].isna().any():
            frame[col] = frame[col].astype("int64")
    return frame[list(domain)]


def dpmm_domain(domain: dict) -> dict:
    return {col: ({"categories": list(spec["categories"])} if "categories" in spec
                  else {"lower": spec["bounds"][0], "upper": spec["bounds"][1]}) for col, spec in domain.items()}


def _peak_rss_mb() -> int:
    """This process's own peak (VmHWM; ru_maxrss would carry the harness's across exec). A copy of
    recommendation.peak_rss_mb: this script runs in the peer's venv, apart from the project."""
    with open("/proc/self/status") as status:
        return round(next(int(line.split()[1]) for line in status if line.startswith("VmHWM")) / 1024)


def main() -> None:
    from dpmm.pipelines import AIMPipeline, MSTPipeline, PrivBayesPipeline

    parser = argparse.ArgumentParser()
    parser.add_argument("--train", required=True)
    parser.add_argument("--domain", required=True)
    parser.add_argument("--generator", choices=("aim", "mst", "privbayes"), required=True)
    parser.add_argument("--epsilon", type=float, required=True, help="total ε: generator plus PrivTree")
    parser.add_argument("--delta", type=float, required=True)
    parser.add_argument("--rows", type=int, required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--meta", help="write the JSON here (else to stdout)")
    parser.add_argument("--proc-epsilon", type=float, default=PROC_EPSILON)
    args = parser.parse_args()
    with open(args.domain, encoding="utf-8") as f:
        domain = json.load(f)
    train = read_train(args.train, domain)
    numeric = [c for c, d in domain.items() if "bounds" in d and train[c].nunique() > 1]  # dpmm's own test
    proc_epsilon = args.proc_epsilon if numeric else 0.0
    gen_epsilon = args.epsilon - proc_epsilon
    if gen_epsilon <= 0:
        sys.exit(f"--epsilon {args.epsilon} leaves nothing for the generator after PrivTree's {proc_epsilon}")
    pipeline = {"aim": AIMPipeline, "mst": MSTPipeline, "privbayes": PrivBayesPipeline}[args.generator]
    pipe = pipeline(epsilon=gen_epsilon, delta=args.delta, proc_epsilon=args.proc_epsilon, n_jobs=1)
    start = time.perf_counter()
    pipe.fit(train, domain=dpmm_domain(domain))
    fit_seconds = time.perf_counter() - start
    start = time.perf_counter()
    synthetic = pipe.generate(n_records=args.rows)
    sample_seconds = time.perf_counter() - start
    synthetic[list(domain)].to_csv(args.out, index=False)
    proc = pipe.proc
    meta = {
        "fit_seconds": round(fit_seconds, 2), "sample_seconds": round(sample_seconds, 2),
        "peak_rss_mb": _peak_rss_mb(),
        "dpmm": version("dpmm"), "generator_epsilon": gen_epsilon, "delta": args.delta,
        "binner": proc.binner_type, "proc_epsilon_spent": round(sum(e or 0.0 for e in proc.spent_epsilon.values()), 6),
        "bins": proc.n_bins, "bounds_honoured": all(  # the outer bin edges are the declared bounds
            np.allclose([b.bins[0], b.bins[-1]], domain[c]["bounds"], rtol=1e-6) for c, b in proc.binners.items()),
    }
    text = json.dumps(meta)
    if args.meta:
        with open(args.meta, "w", encoding="utf-8") as f:
            f.write(text)
    else:
        print(text)


if __name__ == "__main__":
    main()
