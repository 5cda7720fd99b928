"""The keyed watermark measured: detection, false positives and utility cost on real tables.

Usage: python bench/watermark.py [--tables adult diamonds randhie treatment star] [--keys 200]
           [--out bench/results_watermark.jsonl]
       python bench/watermark.py --report

Per table, one spawned process (``recommendation.run_one``) fits AIM at ε=1 and DP-TVAE at
ε=3 once each on the fixed 80/20 split, as a release would be configured
(``recommendation.release_plan``), samples the synthetic table, and embeds the watermark under
a fresh key (``release_key`` of a random secret). Measured per release:

- detection on the whole watermarked table (z; p = exp(-z²/2) as log10) and on 1% row
  subsamples (200 draws: the share called "ours" at α = 1e-9, the median z);
- false positives over ``--keys`` random keys: on the real training table and the real
  holdout (share at p ≤ 0.05, 0.01 and α; mean and sd of z, which is about N(0, 1) when the
  null is honest), with a per-cell binomial test beside it for contrast (the test a naive
  checker would use); on the watermarked table under wrong keys; and across releases (the
  AIM release checked with the DP-TVAE release's key and back);
- utility before and after embedding (``recommendation.scores``: TSTR/TRTR, skill kept,
  quality score), beside a second unmarked sample of the same model (the scorer's own spread
  between two draws), and the largest move of a value per carrying column relative to its range;
- robustness: detection after casting the carrying columns to float32 and after rounding
  them to 4 significant digits.

Reads the benchmark tables' private values (not DP: a benchmark; nothing is released, no value
is printed).
"""

from __future__ import annotations

import argparse
import json
import math
import multiprocessing as mp
import platform
import secrets
import time
from pathlib import Path

from recommendation import ROOT, fixed_split, release_plan, run_one, scores, table

PLANS = (("aim", 1.0), ("dp-tvae", 3.0))
TABLES = ("adult", "diamonds", "randhie", "treatment", "star")
SUBSAMPLES = 200


def _log10_p(z: float) -> float:
    return round(-z * z / (2 * math.log(10)), 1) if z > 0 else 0.0


def _null(frame, schema, keys: int, *, per_cell: bool = False) -> dict:
    """False positives of ``frame`` under ``keys`` random keys (independent of it)."""
    import numpy as np

    from synth_pipeline.watermark import ALPHA, detect, interval_tallies

    ps, zs, naive = [], [], []
    for _ in range(keys):
        key = secrets.token_bytes(32)
        d = detect(frame, schema, key=key)
        ps.append(d.p_value)
        zs.append(d.z)
        if per_cell:
            tallies = interval_tallies(frame, schema, key=key).values()
            n = np.concatenate([t[0] for t in tallies]).astype(float)
            g = np.concatenate([t[1] for t in tallies])
            z = (n @ g - n.sum() / 2) / math.sqrt(n.sum() / 4) if n.sum() else 0.0
            naive.append(0.5 * math.erfc(z / math.sqrt(2)))
    ps = np.array(ps)
    out = {"keys": keys, "cells": d.cells_tested, "fp_05": float(np.mean(ps <= 0.05)),
           "fp_01": float(np.mean(ps <= 0.01)), "fp_alpha": float(np.mean(ps <= ALPHA)),
           "z_mean": round(float(np.mean(zs)), 3), "z_sd": round(float(np.std(zs)), 3)}
    if per_cell:
        naive = np.array(naive)
        out.update(per_cell_fp_01=float(np.mean(naive <= 0.01)), per_cell_fp_alpha=float(np.mean(naive <= ALPHA)))
    return out


def _release(name, generator, epsilon, train, holdout, schema, keys: int) -> tuple[dict, object, bytes, object]:
    import numpy as np

    from synth_pipeline.chain.training import fit_generator
    from synth_pipeline.privacy.preprocessing import schema_with_statistics
    from synth_pipeline.watermark import ALPHA, detect, embed, release_key, watermarkable_columns

    row = {"table": name, "generator": generator, "epsilon": epsilon}
    config, plan = release_plan(schema, generator, epsilon)
    start = time.perf_counter()
    model, released, rows = fit_generator(train, schema.modelled_columns, config, plan, label=schema.label)
    row["fit_seconds"] = round(time.perf_counter() - start, 1)
    synthetic = model.sample(rows or len(train), seed=2)
    public = schema_with_statistics(schema, released)
    key = release_key(secrets.token_bytes(32), f"{name}/bench/{generator}")
    start = time.perf_counter()
    marked = embed(synthetic, public, key=key)
    row["embed_seconds"] = round(time.perf_counter() - start, 2)
    row["rows"] = len(synthetic)
    row["before"] = scores(train, holdout, synthetic, public)
    row["after"] = scores(train, holdout, marked, public)
    # The scorer's own spread: a second sample of the same model, unmarked.
    row["resampled"] = scores(train, holdout, model.sample(rows or len(train), seed=3), public)
    carriers = watermarkable_columns(public)
    row["carriers"] = carriers
    if not carriers:
        return row, marked, key, public
    moves = {}
    for col in carriers:
        lo, hi = public.column(col).bounds
        before, after = (f[col].astype(float).to_numpy() for f in (synthetic, marked))
        changed = np.nan_to_num(np.abs(after - before))
        moves[col] = {"max_move_of_range": float(changed.max() / (hi - lo)), "moved": round(float(np.mean(changed > 0)), 3)}
    row["moves"] = moves
    whole = detect(marked, public, key=key)
    row["whole"] = {"z": round(whole.z, 1), "log10_p": _log10_p(whole.z), "cells": whole.cells_tested}
    rng = np.random.default_rng(7)
    subs = [detect(marked.iloc[rng.choice(len(marked), max(1, len(marked) // 100), replace=False)], public, key=key)
            for _ in range(SUBSAMPLES)]
    row["one_percent"] = {"draws": SUBSAMPLES, "rows": max(1, len(marked) // 100),
                          "detected": float(np.mean([d.p_value <= ALPHA for d in subs])),
                          "z_median": round(float(np.median([d.z for d in subs])), 1),
                          "cells_median": int(np.median([d.cells_tested for d in subs]))}
    row["unmarked_same_key"] = round(detect(synthetic, public, key=key).z, 2)
    real_columns = [c.name for c in public.modelled_columns]
    row["null_real_train"] = _null(train[real_columns], public, keys, per_cell=True)
    row["null_real_holdout"] = _null(holdout[real_columns], public, keys, per_cell=True)
    row["null_wrong_keys"] = _null(marked, public, keys // 2)
    robust = {}
    for label, change in (("float32", lambda s: s.astype("float32").astype(float)),
                          ("4_significant", lambda s: s.astype(float).map(lambda v: float(f"{v:.4g}")))):
        copy = marked.copy()
        for col in carriers:
            copy[col] = change(copy[col])
        robust[label] = round(detect(copy, public, key=key).z, 1)
    row["robustness_z"] = robust
    return row, marked, key, public


def one_table(name: str, keys: int, queue) -> None:
    from synth_pipeline.watermark import detect

    frame, schema = table(name)
    train, holdout = fixed_split(frame)
    results = []
    try:
        for generator, epsilon in PLANS:
            results.append(_release(name, generator, epsilon, train, holdout, schema, keys))
        (a, marked_a, key_a, public_a), (b, marked_b, key_b, public_b) = results
        if a["carriers"] and b["carriers"]:
            # Release A checked with release B's key and back (each with its own public schema).
            a["other_release_z"] = round(detect(marked_a, public_b, key=key_b).z, 2)
            b["other_release_z"] = round(detect(marked_b, public_a, key=key_a).z, 2)
        queue.put([r[0] for r in results])
    except Exception as exc:  # a failure is a result too
        queue.put([{"table": name, "error": f"{type(exc).__name__}: {exc}"[:300]}])


def report(rows: list[dict]) -> str:
    lines = ["| table | release | carrying columns | whole table z (log10 p) | 1% (rows): share detected, median z | "
             "real train / holdout: FP at 0.01, z mean ± sd | per-cell test FP at 0.01 (train) | wrong keys FP "
             "at 0.01 | other release z | TSTR/TRTR before → after | skill kept before → after | quality before → "
             "after | another sample: TSTR/TRTR, quality | largest move / range |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        if "error" in r:
            lines.append(f"| {r['table']} | {r['error'][:80]} |" + " |" * 12)
            continue
        b, a = r["before"], r["after"]
        utility = (f"{b['auc_ratio']:.3f} → {a['auc_ratio']:.3f} | {b['skill_kept']:.3f} → {a['skill_kept']:.3f} | "
                   f"{b['quality_score']:.3f} → {a['quality_score']:.3f} | {r['resampled']['auc_ratio']:.3f}, "
                   f"{r['resampled']['quality_score']:.3f}")
        release = f"{r['generator']} ε={r['epsilon']:g}"
        if not r["carriers"]:
            lines.append(f"| {r['table']} | {release} | none: not watermarked | | | | | | | {utility} | |")
            continue
        t, h, o = r["null_real_train"], r["null_real_holdout"], r["one_percent"]
        move = max(m["max_move_of_range"] for m in r["moves"].values())
        lines.append(
            f"| {r['table']} | {release} | {', '.join(r['carriers'])} | {r['whole']['z']:.0f} ({r['whole']['log10_p']:.0f}) | "
            f"{o['detected']:.2f} ({o['rows']}), {o['z_median']:.1f} | {t['fp_01']:.3f} / {h['fp_01']:.3f}, "
            f"{t['z_mean']:+.2f} ± {t['z_sd']:.2f} / {h['z_mean']:+.2f} ± {h['z_sd']:.2f} | {t['per_cell_fp_01']:.2f} | "
            f"{r['null_wrong_keys']['fp_01']:.3f} | {r.get('other_release_z', '')} | {utility} | {move:.1e} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tables", nargs="+", default=list(TABLES))
    parser.add_argument("--keys", type=int, default=200, help="random keys per false-positive measurement")
    parser.add_argument("--out", default=str(ROOT / "bench/results_watermark.jsonl"))
    parser.add_argument("--report", action="store_true", help="print the markdown table of --out and stop")
    args = parser.parse_args()
    out = Path(args.out)
    if args.report:
        print(report([json.loads(line) for line in out.read_text().splitlines()]))
        return
    done = {json.loads(line)["table"] for line in out.read_text().splitlines()} if out.exists() else set()
    ctx = mp.get_context("spawn")
    for name in args.tables:
        if name in done:
            continue
        start = time.perf_counter()
        rows = run_one(ctx, name, args.keys, target=one_table)
        for row in rows:
            row.update(table_seconds=round(time.perf_counter() - start), date=time.strftime("%Y-%m-%d %H:%M"),
                       machine=f"{platform.machine()}, {mp.cpu_count()} cores, CPU")
            with out.open("a", encoding="utf-8") as f:
                f.write(json.dumps(row) + "\n")
        print(json.dumps([{k: r.get(k) for k in ("table", "generator", "whole", "one_percent", "error")} for r in rows]),
              flush=True)


if __name__ == "__main__":
    main()
