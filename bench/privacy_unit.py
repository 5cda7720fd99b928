"""What protecting a person instead of a row costs: every DP generator at ε 1 and 3, row-level
against person-level with k = 1, 4 and 8 rows kept per person.

Usage: python bench/privacy_unit.py [--tables males adult-panel] [--epsilons 1 3] [--repeats K]
           [--generators aim mst dp-tvae dp-ctgan] [--units row 1 4 8] [--out bench/results_privacy_unit.jsonl]
       python bench/privacy_unit.py --report

Tables:
- ``males`` (``../shared/datasets/males``): 545 men, 8 yearly rows each; the person is ``nr``.
- ``adult-panel``: a row-level table made multi-row by construction: 6,000 rows of the bundled
  Adult sample, each a person with 1 to 8 yearly rows (uniform), copies of the row with ``age``
  one year older each year: persons whose rows are alike, as in a panel.

Both with every domain declared (as a source's documentation gives them) and a public bound
on rows and persons, so that the comparison is of the mechanisms, not of DP domain discovery
(which also pays k times the noise per person). "row" is the same schema with the person
column kept as a dropped identifier and the row as the unit (a person of 8 rows is then
protected only at about 8·ε). Each fit runs in its own process on one fixed split BY PERSON
(a person's rows all train or all hold out, for every unit, so that the holdout never holds
copies of a training person's rows), configured as a release would be (the recommendation's
hyper-parameters for the public bound, generator and ε forced), and is scored as
``bench/recommendation.py`` scores: HistGradientBoosting TSTR/TRTR AUC on the holdout, skill kept
above chance, quality, pair TV distance, fit seconds, peak RSS. Reads the benchmark tables'
private values (not DP: nothing is released).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import platform
import time
from dataclasses import replace
from pathlib import Path

from recommendation import ROOT, SHARED, averaged, peak_rss_mb, run_one, scores

TABLES = ("males", "adult-panel")
GENERATORS = ("aim", "mst", "dp-tvae", "dp-ctgan")
EPSILONS = (1.0, 3.0)
UNITS = ("row", "1", "4", "8")


def _declared(frame, raw: dict) -> dict:
    """Every open domain declared from the table (standing in for its documentation)."""
    for column in raw["columns"]:
        if column.get("role") == "direct_identifier":
            continue
        values = frame[column["name"]].dropna()
        if column["type"] == "categorical" and "categories" not in column:
            column["categories"] = sorted(values.astype(str).unique().tolist())
        elif column["type"] in ("integer", "float") and "bounds" not in column and "values" not in column:
            low, high = float(values.min()), float(values.max())
            column["bounds"] = [int(low), int(high) + (int(high) == int(low))] if column["type"] == "integer" \
                else [low, high + (high == low)]
    return raw


def table(name: str):
    """(frame as the pipeline reads it, person-level schema with max_rows_per_unit 8)."""
    import numpy as np
    import pandas as pd
    import yaml

    from synth_pipeline.data_io import read_drop
    from synth_pipeline.schema import parse_schema
    from synth_pipeline.schema_draft import draft_schema

    if name == "males":
        frame = pd.read_csv(SHARED / "males/males.csv")
        person, label, max_rows, max_units = "nr", "union", 5_000, 1_000
    else:
        base = pd.read_csv(ROOT / "data/sample/adult_sample.csv").head(6_000)
        years = np.random.default_rng(7).integers(1, 9, len(base))
        frame = base.loc[base.index.repeat(years)].reset_index(drop=True)
        frame.insert(0, "person", np.repeat(np.arange(len(base)), years))
        frame["age"] = frame["age"] + frame.groupby("person").cumcount()
        person, label, max_rows, max_units = "person", "income", 60_000, 8_000
    raw = yaml.safe_load(draft_schema(frame, source_name=name, dataset=name, label=label))
    for column in raw["columns"]:
        if column["name"] == person:
            column.update(type="string", role="direct_identifier")
            column.pop("bounds", None)
    raw = _declared(frame, raw)
    raw.update(max_rows=max_rows, privacy_unit=person, max_rows_per_unit=8, max_units=max_units)
    schema = parse_schema(raw)
    path = Path("/tmp") / f"bench_unit_{name}.csv"
    frame.to_csv(path, index=False)
    return read_drop(path, schema), schema


def person_split(frame, schema):
    """(train, holdout): one fixed 80/20 split by person (seeded: a benchmark releases nothing)."""
    import numpy as np

    from synth_pipeline.data_io import apply_holdout

    codes = frame[schema.privacy_unit].astype("string").factorize()[0]
    return apply_holdout(frame, (np.random.default_rng(0).random(codes.max() + 1) < 0.2)[codes])


def one(name: str, generator: str, epsilon: float, unit: str, queue) -> None:
    from synth_pipeline.chain.training import fit_bounded
    from synth_pipeline.privacy.config import DatasetFacts, plan_training
    from synth_pipeline.privacy.contribution import privacy_unit_of
    from synth_pipeline.privacy.recommendation import recommend
    from synth_pipeline.privacy.preprocessing import schema_with_statistics

    frame, schema = table(name)
    train, holdout = person_split(frame, schema)
    row = {"table": name, "generator": generator, "epsilon": epsilon, "unit": unit, "rows": len(frame),
           "persons": int(frame[schema.privacy_unit].nunique())}
    if unit == "row":
        schema = replace(schema, privacy_unit=None, max_rows_per_unit=None, max_units=None)
    columns = schema.modelled_columns
    try:
        privacy_unit = privacy_unit_of(schema, None if unit == "row" else int(unit))
        bound = schema.public_row_bound(len(frame))
        config = replace(recommend(DatasetFacts(bound, len(columns)), preset="balanced"), generator=generator,
                         epsilon=epsilon, rows_per_unit=None if unit == "row" else int(unit))
        plan = plan_training(config, bound, columns=columns, unit=privacy_unit)
        start = time.perf_counter()
        model, released, rows, bounding = fit_bounded(train, columns, config, plan, label=schema.label)
        fit_seconds = time.perf_counter() - start
        synthetic = model.sample(rows or len(train), seed=2)
        row.update(scores(train, holdout, synthetic, schema_with_statistics(schema, released)))
        row.update({
            "fit_seconds": round(fit_seconds, 1), "training_rows_kept": bounding.get("rows_kept", len(train)),
            "sample_rate": plan.sample_rate, "noise_multiplier": round(plan.noise_multiplier, 3),
            "synthetic_rows": rows,
        })
    except Exception as exc:  # a refusal or a failure is a result too
        row["error"] = f"{type(exc).__name__}: {exc}"[:300]
    row["peak_rss_mb"] = peak_rss_mb()
    queue.put(row)


METRICS = ("auc_ratio", "skill_kept", "quality_score", "mean_pair_tv_error", "fit_seconds")


def report(rows: list[dict]) -> str:
    """The BENCHMARKS.md table: per table, ε and generator, each unit's scores side by side
    (means over the repeats, with the skill range)."""
    lines = ["| table | ε | generator | unit | TSTR/TRTR | skill kept (range) | quality | pair TVD | rows kept | fit s |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    order = {u: i for i, u in enumerate(UNITS)}
    cells = averaged(rows, keys=("table", "epsilon", "generator", "unit"), metrics=METRICS, spread="skill_kept")
    for r in sorted(cells, key=lambda r: (TABLES.index(r["table"]), r["epsilon"],
                                                   GENERATORS.index(r["generator"]), order[r["unit"]])):
        unit = "row" if r["unit"] == "row" else f"person, k={r['unit']}"
        if "error" in r:
            lines.append(f"| {r['table']} | {r['epsilon']:g} | {r['generator']} | {unit} | {r['error'][:70]} "
                         "| | | | | |")
            continue
        spread = (f" ({r['skill_kept_range'][0]:.2f}–{r['skill_kept_range'][1]:.2f}, {r['fits']} fits)"
                  if r["fits"] > 1 else "")
        lines.append(f"| {r['table']} | {r['epsilon']:g} | {r['generator']} | {unit} | {r['auc_ratio']:.3f} | "
                     f"{r['skill_kept']:.3f}{spread} | {r['quality_score']:.3f} | {r['mean_pair_tv_error']:.3f} | "
                     f"{r['training_rows_kept']} | {r['fit_seconds']:.0f} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--report", action="store_true", help="print the markdown table of --out and stop")
    parser.add_argument("--tables", nargs="+", default=list(TABLES))
    parser.add_argument("--epsilons", type=float, nargs="+", default=list(EPSILONS))
    parser.add_argument("--generators", nargs="+", default=list(GENERATORS))
    parser.add_argument("--units", nargs="+", default=list(UNITS))
    parser.add_argument("--out", default=str(ROOT / "bench/results_privacy_unit.jsonl"))
    parser.add_argument("--repeats", type=int, default=1, help="fits per cell (fresh DP noise, same split)")
    args = parser.parse_args()
    out = Path(args.out)
    if args.report:
        print(report([json.loads(line) for line in out.read_text().splitlines()]))
        return
    done = set()
    if out.exists():
        done = {(r["table"], r["generator"], r["epsilon"], r["unit"], r.get("repeat", 0))
                for r in map(json.loads, out.read_text().splitlines())}
    ctx = mp.get_context("spawn")
    machine = f"{platform.machine()}, {mp.cpu_count()} cores, CPU"
    for repeat, epsilon, name, generator, unit in ((r, e, t, g, u) for r in range(args.repeats)
                                                   for e in args.epsilons for t in args.tables
                                                   for g in args.generators for u in args.units):
        if (name, generator, epsilon, unit, repeat) in done:
            continue
        row = run_one(ctx, name, generator, epsilon, unit, target=one)
        row.update(repeat=repeat, machine=machine, date=time.strftime("%Y-%m-%d %H:%M"),
                   load=round(__import__("os").getloadavg()[0], 1))
        with out.open("a", encoding="utf-8") as f:
            f.write(json.dumps(row) + "\n")
        print(json.dumps(row), flush=True)


if __name__ == "__main__":
    main()
