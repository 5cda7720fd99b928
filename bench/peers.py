"""Side by side with the best open peer: dpmm 0.1.9's AIM and MST against this project's, one scorer.

Usage: python bench/peers.py [--tables adult randhie ...] [--epsilons 0.3 1 3]
           [--generators dpmm-aim dpmm-mst aim mst] [--out bench/results_peers.jsonl] [--report]
First: ``bash bench/peer_setup.sh`` (dpmm in its own venv, bench/.venv-peer; not a project dependency).

Tables and split: those of bench/recommendation.py (``table()``), on its fixed 80/20 split
(``recommendation.fixed_split``; benchmarks release nothing, releases
draw a secret split per run).

One declared public domain for both sides, identical: Adult's bundled schema (every bound and
category from adult.names); for the other tables, bounds = the training split's min and max and
categories = the training split's category set (booleans: false/true). That stand-in for public
knowledge reads private values WITHOUT DP (a benchmark, nothing is released): it makes neither side
spend budget on domains, so both are measured on the generator alone. This project gets it as its
schema (``schema_with_statistics``: nothing left open, so ``plan_training`` buys no DP domains);
dpmm as its ``domain`` (see bench/peer_fit.py: dpmm still spends 0.1 of the total ε on PrivTree
bins inside the bounds, and its generator gets the rest).

Each (table, ε, generator) fits in its own process, peak RSS being that process's own high-water mark (VmHWM) after
fitting and sampling (before any scoring):
- ``aim``, ``mst``: as bench/recommendation.py ``one()`` configures a release (``recommend`` for the
  public max_rows, generator and ε replaced: ``recommendation.release_plan``; ``fit_generator``, ``model.sample``),
  in a spawned process of the project's venv;
- ``dpmm-aim``, ``dpmm-mst`` (and ``dpmm-privbayes``): ``bench/.venv-peer/bin/python bench/peer_fit.py``
  with the δ of this project's plan for the same generator (``plan_training(...).delta``).
Both sample as many rows as the training split has (read from the split: not DP, benchmark only).

One scorer for both, in the project's venv, each synthetic table read back through ``read_drop``
with the declared schema: HistGradientBoosting TSTR AUC against TRTR on the real holdout
(``evaluation.utility.tstr``), skill kept = (TSTR − 0.5)/(TRTR − 0.5); the mean one-way and two-way
total-variation distance, TRAINING split against synthetic (numeric columns cut at the training
split's deciles, categories as they are, missing as its own cell); the quality score
(``evaluation.fidelity.quality``, holdout against synthetic, declared schema, as recommendation.py
scores it). All scores read the real rows without DP: internal benchmark figures. One JSON line per
fit is appended to ``--out`` as it finishes; rows already there are skipped, so the run resumes.
"""

from __future__ import annotations

import argparse
import itertools
import json
import multiprocessing as mp
import os
import platform
import subprocess
import tempfile
import time
from pathlib import Path

from recommendation import TABLES, fixed_split, peak_rss_mb, release_plan, table  # bench/ is on the path of the script and its children

ROOT = Path(__file__).resolve().parents[1]
PEER_PYTHON = ROOT / "bench/.venv-peer/bin/python"
PEER_FIT = ROOT / "bench/peer_fit.py"
GENERATORS = ("dpmm-aim", "dpmm-mst", "aim", "mst")
EPSILONS = (0.3, 1.0, 3.0)


def split(name: str):
    """(train, holdout, declared schema) of a table on recommendation.py's fixed split. The declared
    schema fills what the table's schema leaves open from the TRAINING split (not DP: benchmark)."""
    import pandas as pd

    from synth_pipeline.privacy.preprocessing import schema_with_statistics

    frame, schema = table(name)
    train, holdout = fixed_split(frame)
    filled = {}
    for col in schema.modelled_columns:
        if col.is_numeric and col.bounds is None:
            values = pd.to_numeric(train[col.name], errors="coerce").dropna()
            lo, hi = float(values.min()), float(values.max())
            filled[col.name] = {"bounds": [lo, hi if hi > lo else lo + 1]}
        elif col.type in ("categorical", "string") and col.categories is None:
            filled[col.name] = {"categories": sorted(train[col.name].dropna().astype(str).unique())}
    return train, holdout, schema_with_statistics(schema, filled)


def peer_domain(schema) -> dict:
    """The declared schema as peer_fit.py's domain JSON (public schema only)."""
    return {c.name: ({"bounds": list(c.bounds), "integer": c.type == "integer"} if c.is_numeric
                     else {"categories": list(c.value_set)}) for c in schema.modelled_columns}


def fit_project(name: str, generator: str, epsilon: float, out: str, queue) -> None:
    """Spawned: fit this project's generator (DP; nothing is charged, a benchmark) and write its sample."""
    from synth_pipeline.chain.training import fit_generator

    try:
        train, _, schema = split(name)
        config, plan = release_plan(schema, generator, epsilon)
        start = time.perf_counter()
        model, released, _ = fit_generator(train, schema.modelled_columns, config, plan, label=schema.label)
        fit_seconds = time.perf_counter() - start
        start = time.perf_counter()
        synthetic = model.sample(len(train), seed=2)
        row = {"fit_seconds": round(fit_seconds, 2), "sample_seconds": round(time.perf_counter() - start, 2),
               "delta": plan.delta, "open_domains": len(released)}
        synthetic.to_csv(out, index=False)
    except Exception as exc:  # a refusal or a failure is a result too
        row = {"error": f"{type(exc).__name__}: {exc}"[:300]}
    row["peak_rss_mb"] = peak_rss_mb()
    queue.put(row)


def fit_peer(name: str, generator: str, epsilon: float, out: str, work: Path, train, schema, limit: float) -> dict:
    """Run peer_fit.py in the peer's venv on the training split and the declared domain."""
    _, plan = release_plan(schema, {"dpmm-mst": "mst"}.get(generator, "aim"), epsilon)  # δ: max_rows only
    train_csv, domain_json, meta = work / "train.csv", work / "domain.json", work / "meta.json"
    if not train_csv.exists():
        train[[c.name for c in schema.modelled_columns]].to_csv(train_csv, index=False)
        domain_json.write_text(json.dumps(peer_domain(schema)))
    cmd = [str(PEER_PYTHON), str(PEER_FIT), "--train", str(train_csv), "--domain", str(domain_json),
           "--generator", generator.removeprefix("dpmm-"), "--epsilon", str(epsilon), "--delta", str(plan.delta),
           "--rows", str(len(train)), "--out", out, "--meta", str(meta)]
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=limit)
    except subprocess.TimeoutExpired:
        return {"error": f"stopped after the {limit:.0f} s limit"}
    if done.returncode != 0:
        return {"error": (done.stderr.strip().splitlines() or [f"exit {done.returncode}"])[-1][:300]}
    return {**json.loads(meta.read_text()), "delta": plan.delta}


def run_project(ctx, name: str, generator: str, epsilon: float, out: str, limit: float) -> dict:
    """fit_project in a spawned child, stopped at ``limit`` seconds; a child that dies without a
    result (killed, out of memory) is a result too, never a hang."""
    import queue as queues

    results = ctx.Queue()
    proc = ctx.Process(target=fit_project, args=(name, generator, epsilon, out, results))
    proc.start()
    deadline = time.monotonic() + limit
    while True:
        try:
            row = results.get(timeout=5)
            break
        except queues.Empty:
            if not proc.is_alive():
                row = {"error": f"fit process ended without a result (exit code {proc.exitcode})"}
                break
            if time.monotonic() > deadline:
                proc.kill()
                row = {"error": f"stopped after the {limit:.0f} s limit"}
                break
    proc.join()
    return row


def tvd(real, synthetic, columns) -> tuple[float, float]:
    """Mean one-way and two-way TV distance, ``real`` (the training split) against synthetic:
    numeric columns cut at the real deciles, categories as they are, missing its own cell.
    Reads private values, not DP; internal benchmark figure."""
    import numpy as np
    import pandas as pd

    codes = {}
    for col in columns:
        if col.is_numeric:
            r, s = (pd.to_numeric(f[col.name], errors="coerce").to_numpy(dtype=float) for f in (real, synthetic))
            edges = np.unique(np.nanquantile(r, np.linspace(0.1, 0.9, 9)))
            k = len(edges) + 2
            codes[col.name] = [np.where(np.isnan(v), k - 1, np.searchsorted(edges, v, side="right")) for v in (r, s)], k
        else:
            r, s = (f[col.name].astype("string") for f in (real, synthetic))
            cats = pd.Index(sorted(set(r.dropna()) | set(s.dropna())))
            k = len(cats) + 1
            codes[col.name] = [np.where(v.isna(), k - 1, cats.get_indexer(v.fillna(""))) for v in (r, s)], k

    def tv(p, q, k):
        return 0.5 * float(np.abs(np.bincount(p, minlength=k) / len(p) - np.bincount(q, minlength=k) / len(q)).sum())

    one = [tv(*codes[c.name][0], codes[c.name][1]) for c in columns]
    two = []
    for a, b in itertools.combinations(columns, 2):
        ((ra, sa), ka), ((rb, sb), kb) = codes[a.name], codes[b.name]
        two.append(tv(ra * kb + rb, sa * kb + sb, ka * kb))
    return float(np.mean(one)), float(np.mean(two)) if two else float("nan")


def score(train, holdout, synthetic_csv: str, schema) -> dict:
    """The one scorer (both sides). Reads private values, not DP; internal benchmark figures."""
    from synth_pipeline.data_io import read_drop
    from synth_pipeline.evaluation.fidelity import quality
    from synth_pipeline.evaluation.utility import tstr

    synthetic = read_drop(synthetic_csv, schema)
    utility = tstr(real_train=train, holdout=holdout, synthetic=synthetic, schema=schema)
    trtr, tstr_auc = utility["trtr_auc"], utility["tstr_auc"]
    one_way, two_way = tvd(train, synthetic, schema.modelled_columns)
    return {"synthetic_rows": len(synthetic), "trtr_auc": round(trtr, 4), "tstr_auc": round(tstr_auc, 4),
            "auc_ratio": round(tstr_auc / trtr, 4),
            "skill_kept": round((tstr_auc - 0.5) / (trtr - 0.5), 4) if trtr > 0.5 else None,
            "tvd_1way": round(one_way, 4), "tvd_2way": round(two_way, 4),
            "quality_score": round(quality(holdout, synthetic, schema)["quality_score"], 4)}


def report(rows: list[dict]) -> str:
    """The BENCHMARKS.md table, by table, ε and generator."""
    order = {g: i for i, g in enumerate(GENERATORS + ("dpmm-privbayes",))}
    lines = ["| table | ε | generator | TSTR/TRTR | skill kept | 1-way TVD | 2-way TVD | quality | fit s | peak RSS MB |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for r in sorted(rows, key=lambda r: (list(TABLES).index(r["table"]), r["epsilon"], order.get(r["generator"], 9))):
        head = f"| {r['table']} | {r['epsilon']:g} | {r['generator']} |"
        if "error" in r:
            lines.append(f"{head} {r['error'][:80]} | | | | | | |")
            continue
        skill = "" if r["skill_kept"] is None else f"{r['skill_kept']:.3f}"
        lines.append(f"{head} {r['auc_ratio']:.3f} | {skill} | {r['tvd_1way']:.3f} | {r['tvd_2way']:.3f} | "
                     f"{r['quality_score']:.3f} | {r['fit_seconds']:.1f} | {r['peak_rss_mb']} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--report", action="store_true", help="print the markdown table of --out and stop")
    parser.add_argument("--tables", nargs="+", default=list(TABLES))
    parser.add_argument("--epsilons", type=float, nargs="+", default=list(EPSILONS))
    parser.add_argument("--generators", nargs="+", default=list(GENERATORS),
                        choices=GENERATORS + ("dpmm-privbayes",))
    parser.add_argument("--out", default=str(ROOT / "bench/results_peers.jsonl"))
    parser.add_argument("--limit", type=float, default=1800.0, help="seconds one fit may take before it is stopped")
    args = parser.parse_args()
    out = Path(args.out)
    if args.report:
        print(report([json.loads(line) for line in out.read_text().splitlines()]))
        return
    if any(g.startswith("dpmm-") for g in args.generators) and not PEER_PYTHON.exists():
        raise SystemExit("no peer venv: run `bash bench/peer_setup.sh` first")
    done = set()
    if out.exists():
        done = {(r["table"], r["generator"], r["epsilon"]) for r in map(json.loads, out.read_text().splitlines())}
    ctx = mp.get_context("spawn")
    machine = f"{platform.machine()}, {mp.cpu_count()} cores, CPU"
    for name in args.tables:
        todo = [(e, g) for e in args.epsilons for g in args.generators if (name, g, e) not in done]
        if not todo:
            continue
        train, holdout, schema = split(name)
        with tempfile.TemporaryDirectory(prefix=f"peers_{name}_") as work:
            for epsilon, generator in todo:
                synthetic_csv = str(Path(work) / "synthetic.csv")
                if generator.startswith("dpmm-"):
                    row = fit_peer(name, generator, epsilon, synthetic_csv, Path(work), train, schema, args.limit)
                else:
                    row = run_project(ctx, name, generator, epsilon, synthetic_csv, args.limit)
                row = {"table": name, "generator": generator, "epsilon": epsilon, "train_rows": len(train),
                       "columns": len(schema.modelled_columns), **row}
                if "error" not in row:
                    try:
                        row.update(score(train, holdout, synthetic_csv, schema))
                    except Exception as exc:
                        row["error"] = f"scoring: {type(exc).__name__}: {exc}"[:300]
                    os.remove(synthetic_csv)
                row.update(machine=machine, date=time.strftime("%Y-%m-%d %H:%M"), load=round(os.getloadavg()[0], 1))
                with out.open("a", encoding="utf-8") as f:
                    f.write(json.dumps(row) + "\n")
                print(json.dumps(row), flush=True)


if __name__ == "__main__":
    main()
