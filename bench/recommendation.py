"""Which generator to recommend, measured: every DP generator on six real tables at four ε.

Usage: python bench/recommendation.py [--tables adult randhie ...] [--epsilons 1 3 0.3 10] [--repeats K]
           [--generators aim mst dp-tvae dp-ctgan] [--out bench/results_recommendation.jsonl]

Tables: Adult (the bundled schema, every domain declared) and the five of
``../shared/datasets`` (RAND HIE, diamonds, males, star, treatment) with the schema a new user
gets from ``synth-pipeline schema draft`` (names and types only: every bound and category
bought with DP statistics), plus a public ``max_rows`` and the label of the datasets README.
Derived labels replace their source column (diamonds: ``cut == Ideal`` replaces ``cut``;
RAND HIE: ``mdvis > 0`` replaces ``mdvis``), so the label is not leaked by a feature.

Each (table, ε, generator) fits in its own process (peak RSS per fit) on a fixed 80/20 split
(benchmarks release nothing; releases draw a secret split per run), configured as a release
would be (the recommendation's hyper-parameters for the public max_rows, the generator
forced), and is scored the same way: HistGradientBoosting TSTR AUC against TRTR on the
real holdout, the skill kept above chance (TSTR − 0.5) / (TRTR − 0.5), the quality score,
the mean two-way TV distance, fit seconds and peak RSS. One JSON line per fit is appended to
``--out`` as it finishes; rows already there are skipped, so the run resumes. Reads the
benchmark tables' private values (not DP: a benchmark, nothing is released).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import platform
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "datasets"
TABLES = {  # file, label (a derived one: (source column, rule, new name)), public max_rows
    "adult": {"file": ROOT / "data/sample/adult_sample.csv", "schema": ROOT / "data/sample/adult_schema.yaml"},
    "randhie": {"file": SHARED / "randhie/randhie.csv", "derive": ("mdvis", "gt0", "any_visit"), "max_rows": 25_000},
    "diamonds": {"file": SHARED / "diamonds/diamonds.csv", "derive": ("cut", "Ideal", "ideal_cut"),
                 "max_rows": 60_000},
    "males": {"file": SHARED / "males/males.csv", "label": "union", "max_rows": 5_000, "identifiers": ["nr"]},
    "star": {"file": SHARED / "star/star.csv", "label": "freelunk", "max_rows": 6_000},
    "treatment": {"file": SHARED / "treatment/treatment.csv", "label": "treat", "max_rows": 3_000},
}
GENERATORS = ("aim", "mst", "dp-tvae", "dp-ctgan")
EPSILONS = (1.0, 3.0, 0.3, 10.0)


def peak_rss_mb() -> int:
    """This process's own peak resident memory (VmHWM). Not ``ru_maxrss``: Linux carries the
    high-water mark across exec, so a child started from a 300 MB harness reported at least
    300 MB whatever it used (measured: 483 MB for a child using 11 MB)."""
    with open("/proc/self/status") as status:
        return round(next(int(line.split()[1]) for line in status if line.startswith("VmHWM")) / 1024)


def table(name: str):
    """The table's frame as read by the pipeline, its schema, and the label column."""
    import pandas as pd
    import yaml

    from synth_pipeline.data_io import read_drop
    from synth_pipeline.schema import load_schema, parse_schema
    from synth_pipeline.schema_draft import draft_schema

    spec = TABLES[name]
    if "schema" in spec:
        schema = load_schema(spec["schema"])
        return read_drop(spec["file"], schema), schema
    frame = pd.read_csv(spec["file"])
    label = spec.get("label")
    if "derive" in spec:
        source, rule, label = spec["derive"]
        positive = frame[source] > 0 if rule == "gt0" else frame[source] == rule
        frame = frame.drop(columns=[source]).assign(**{label: positive.map({True: "yes", False: "no"})})
    raw = yaml.safe_load(draft_schema(frame, source_name=spec["file"].name, dataset=name, label=label))
    raw["max_rows"] = spec["max_rows"]
    for column in raw["columns"]:  # what the source's documentation names a person's id
        if column["name"] in spec.get("identifiers", ()):
            column.update(type="string", role="direct_identifier")
            column.pop("bounds", None)
    schema = parse_schema(raw)
    path = Path("/tmp") / f"bench_{name}.csv"
    frame.to_csv(path, index=False)
    return read_drop(path, schema), schema


def fixed_split(frame):
    """(train, holdout): the benchmark's fixed 80/20 split (releases draw a secret one per run)."""
    import numpy as np

    from synth_pipeline.data_io import apply_holdout

    return apply_holdout(frame, np.random.default_rng(0).random(len(frame)) < 0.2)


def release_plan(schema, generator: str, epsilon: float):
    """The config and plan a release of this table would get (the recommendation's
    hyper-parameters for the public max_rows, generator and ε forced). Public facts only."""
    from dataclasses import replace

    from synth_pipeline.privacy.config import DatasetFacts, plan_training
    from synth_pipeline.privacy.recommendation import recommend

    columns = schema.modelled_columns
    config = replace(recommend(DatasetFacts(schema.max_rows, len(columns)), preset="balanced"),
                     generator=generator, epsilon=epsilon)
    return config, plan_training(config, schema.max_rows, columns=columns)


def scores(train, holdout, synthetic, schema) -> dict:
    """The benchmarks' one scorer: HistGradientBoosting TSTR/TRTR AUC on the holdout, skill kept
    above chance, the quality score and the mean two-way TV distance. ``schema``: with the
    fit's DP domains filled in (``schema_with_statistics``), as the chain's audit sees them."""
    from generators_adult import mean_pair_error  # bench/ is on the path of the script and its children

    from synth_pipeline.evaluation.fidelity import quality
    from synth_pipeline.evaluation.utility import tstr

    utility = tstr(real_train=train, holdout=holdout, synthetic=synthetic, schema=schema)
    trtr, tstr_auc = utility["trtr_auc"], utility["tstr_auc"]
    return {
        "trtr_auc": round(trtr, 4), "tstr_auc": round(tstr_auc, 4), "auc_ratio": round(tstr_auc / trtr, 4),
        "skill_kept": round((tstr_auc - 0.5) / (trtr - 0.5), 4) if trtr > 0.5 else None,
        "quality_score": round(quality(holdout, synthetic, schema)["quality_score"], 4),
        "mean_pair_tv_error": round(mean_pair_error(holdout, synthetic, schema.modelled_columns), 4),
    }


def one(name: str, generator: str, epsilon: float, queue) -> None:
    from synth_pipeline.chain.training import fit_generator
    from synth_pipeline.privacy.preprocessing import schema_with_statistics

    frame, schema = table(name)
    train, holdout = fixed_split(frame)
    columns = schema.modelled_columns
    row = {"table": name, "generator": generator, "epsilon": epsilon, "rows": len(frame), "columns": len(columns)}
    try:
        config, plan = release_plan(schema, generator, epsilon)
        start = time.perf_counter()
        model, released, rows = fit_generator(train, columns, config, plan, label=schema.label)
        fit_seconds = time.perf_counter() - start
        synthetic = model.sample(rows or len(train), seed=2)
        row.update(scores(train, holdout, synthetic, schema_with_statistics(schema, released)))
        row.update(fit_seconds=round(fit_seconds, 1), open_domains=len(released))
    except Exception as exc:  # a refusal or a failure is a result too
        row["error"] = f"{type(exc).__name__}: {exc}"[:300]
    row["peak_rss_mb"] = peak_rss_mb()
    queue.put(row)


METRICS = ("auc_ratio", "skill_kept", "quality_score", "mean_pair_tv_error", "fit_seconds", "peak_rss_mb")


def averaged(rows: list[dict], *, keys: tuple[str, ...] = ("table", "epsilon", "generator"),
             metrics: tuple[str, ...] = METRICS, spread: str = "auc_ratio") -> list[dict]:
    """One row per cell (``keys``): the mean of its fits (repeats draw fresh DP noise on the
    same split), with ``fits`` and the range of ``spread`` as ``<spread>_range``; a cell whose
    fits all failed shows its first error."""
    groups: dict[tuple, list[dict]] = {}
    for r in rows:
        groups.setdefault(tuple(r[k] for k in keys), []).append(r)
    out = []
    for group in groups.values():
        good = [r for r in group if "error" not in r]
        if not good:
            out.append(group[0])
            continue
        mean = {k: sum(r[k] for r in good) / len(good) for k in metrics}
        values = [r[spread] for r in good]
        out.append({**good[0], **mean, "fits": len(good), f"{spread}_range": (min(values), max(values))})
    return out


def fits(r: dict) -> str:
    """The fits behind a row, when more than one: count and TSTR/TRTR range."""
    return f" ({r['fits']} fits, {r['auc_ratio_range'][0]:.2f}–{r['auc_ratio_range'][1]:.2f})" if r.get("fits", 1) > 1 else ""


def report(rows: list[dict]) -> str:
    """The BENCHMARKS.md table: per table and ε, each generator's scores, the best by TSTR/TRTR,
    and what ``recommended_generator`` picks for that table (public facts only) and its gap."""
    from synth_pipeline.privacy.recommendation import recommended_generator
    from synth_pipeline.profiling import dataset_facts, profile_dataset

    facts = {}
    lines = ["| table | ε | generator | TSTR/TRTR | skill kept | quality | pair TVD | fit s | peak RSS MB |",
             "|---|---|---|---|---|---|---|---|---|"]
    picks = ["| table | ε | best (TSTR/TRTR) | recommended | its TSTR/TRTR | gap |", "|---|---|---|---|---|---|"]
    rows = averaged(rows)
    for (name, epsilon) in sorted({(r["table"], r["epsilon"]) for r in rows}, key=lambda k: (list(TABLES).index(k[0]), k[1])):
        group = [r for r in rows if (r["table"], r["epsilon"]) == (name, epsilon)]
        for r in group:
            if "error" in r:
                lines.append(f"| {name} | {epsilon:g} | {r['generator']} | {r['error'][:60]} | | | | | |")
                continue
            lines.append(f"| {name} | {epsilon:g} | {r['generator']}{'*' if r.get('earlier') else ''}{fits(r)} | {r['auc_ratio']:.3f} | {r['skill_kept']:.3f} | "
                         f"{r['quality_score']:.3f} | {r['mean_pair_tv_error']:.3f} | {r['fit_seconds']:.0f} | "
                         f"{r['peak_rss_mb']:.0f} |")
        scored = [r for r in group if "error" not in r]
        if not scored:
            continue
        if name not in facts:
            frame, schema = table(name)
            facts[name] = dataset_facts(profile_dataset(None, schema, n_rows=schema.max_rows))
        best = max(scored, key=lambda r: r["auc_ratio"])
        pick = recommended_generator(facts[name], epsilon)
        mine = next((r for r in scored if r["generator"] == pick), None)
        gap = f"{best['auc_ratio'] - mine['auc_ratio']:.3f}" if mine else "not run"
        picks.append(f"| {name} | {epsilon:g} | {best['generator']} ({best['auc_ratio']:.3f}) | {pick} | "
                     f"{mine['auc_ratio']:.3f} | {gap} |" if mine else f"| {name} | {epsilon:g} | {best['generator']} | "
                     f"{pick} | | {gap} |")
    return "\n".join(lines + [""] + picks)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--report", action="store_true", help="print the markdown tables of --out and stop")
    parser.add_argument("--earlier", help="with --report: a results file whose cells --out lacks are shown too, "
                                          "marked * (measured at an earlier commit)")
    parser.add_argument("--tables", nargs="+", default=list(TABLES))
    parser.add_argument("--epsilons", type=float, nargs="+", default=list(EPSILONS))
    parser.add_argument("--generators", nargs="+", default=list(GENERATORS))
    parser.add_argument("--out", default=str(ROOT / "bench/results_recommendation.jsonl"))
    parser.add_argument("--repeats", type=int, default=1, help="fits per cell (fresh DP noise, same split)")
    parser.add_argument("--repeat-below", type=int, default=0,
                        help="repeat only tables whose public max_rows is below this (0: every table)")
    args = parser.parse_args()
    out = Path(args.out)
    if args.report:
        rows = [json.loads(line) for line in out.read_text().splitlines()]
        if args.earlier:
            have = {(r["table"], r["epsilon"], r["generator"]) for r in rows}
            rows += [{**r, "earlier": True} for r in map(json.loads, Path(args.earlier).read_text().splitlines())
                     if (r["table"], r["epsilon"], r["generator"]) not in have]
        print(report(rows))
        return
    done = set()
    if out.exists():
        done = {(r["table"], r["generator"], r["epsilon"], r.get("repeat", 0))
                for r in map(json.loads, out.read_text().splitlines())}
    ctx = mp.get_context("spawn")
    machine = f"{platform.machine()}, {mp.cpu_count()} cores, CPU"
    for repeat in range(args.repeats):
        for epsilon in args.epsilons:
            for name in args.tables:
                if repeat and args.repeat_below and TABLES[name].get("max_rows", 10 ** 9) >= args.repeat_below:
                    continue
                for generator in args.generators:
                    if (name, generator, epsilon, repeat) in done:
                        continue
                    row = run_one(ctx, name, generator, epsilon)
                    row.update(repeat=repeat, machine=machine, date=time.strftime("%Y-%m-%d %H:%M"),
                               load=round(__import__("os").getloadavg()[0], 1))
                    with out.open("a", encoding="utf-8") as f:
                        f.write(json.dumps(row) + "\n")
                    print(json.dumps(row), flush=True)


def run_one(ctx, *args, target=None) -> dict:
    """One fit in its own spawned process (its peak RSS is the fit's): ``target(*args, queue)``
    puts its result row on the queue (default ``one``)."""
    queue = ctx.Queue()
    proc = ctx.Process(target=target or one, args=(*args, queue))
    proc.start()
    row = queue.get()
    proc.join()
    return row


if __name__ == "__main__":
    main()
