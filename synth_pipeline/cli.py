"""`synth-pipeline`: what people do outside the UI, on the same core as the assets.

Commands print one JSON object on stdout (``ledger`` prints text unless ``--json``); bad
input exits non-zero with a one-line error on stderr that says what to fix. Nothing here
prints raw values.
"""

from __future__ import annotations

import argparse
import csv
import importlib
import io
import json
import logging
import math
import os
import shutil
import sys
import time
from pathlib import Path

log = logging.getLogger("synth_pipeline")

SAMPLE_DROP = "data/sample/adult_sample.csv"
# Modules with a ``register(subparsers)`` function adding their own commands; each takes the
# helpers below (``emit``, ``UsageError``, ``positive_float``, ``positive_int``).
COMMAND_MODULES: tuple[str, ...] = ("synth_pipeline.commands.compare", "synth_pipeline.commands.audit",
                                    "synth_pipeline.commands.privacy_audit")
DEMO_PARTITION = "adult_sample.csv"


class UsageError(Exception):
    """Bad input from the command line: printed as one line, exit code 2."""


def _emit(obj) -> None:
    json.dump(obj, sys.stdout, indent=2, default=str, ensure_ascii=False)
    sys.stdout.write("\n")


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not math.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(f"must be a positive finite number, got {text}")
    return value


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text}")
    return value


# Public names for the command modules.
emit, positive_float, positive_int = _emit, _positive_float, _positive_int


# -- synthesize -----------------------------------------------------------------------
def cmd_synthesize(args) -> int:
    from synth_pipeline import pipeline
    from synth_pipeline.data_io import read_drop, split_holdout
    from synth_pipeline.pii import pii_problems, scan
    from synth_pipeline.privacy.ledger import PrivacyLedger
    from synth_pipeline.profiling import profile_dataset
    from synth_pipeline.quality.expectations import validate_raw
    from synth_pipeline.schema import load_schema

    started = time.perf_counter()
    schema = load_schema(args.schema)
    frame = read_drop(args.input, schema)
    raw = validate_raw(frame, schema)
    if not raw.success:
        raise UsageError(f"{Path(args.input).name} fails the raw-data gate: " + "; ".join(raw.problems()))
    pii = scan(frame, schema)
    if pii_problems(pii):
        raise UsageError("; ".join(pii_problems(pii)))
    profile = profile_dataset(frame, schema)
    config, validation = pipeline.resolve_config(
        profile, schema, generator=args.generator, epsilon=args.epsilon, delta=args.delta, seed=args.seed,
        synthetic_rows=args.rows, epochs=args.epochs, batch_size=args.batch_size)
    if not validation.is_valid:
        raise UsageError("invalid config: " + "; ".join(validation.errors))
    train, _ = split_holdout(frame, holdout_fraction=config.holdout_fraction)
    ledger = PrivacyLedger(args.ledger, default_budget_epsilon=args.budget_epsilon,
                           default_budget_delta=args.budget_delta)
    output = Path(args.output)
    result = pipeline.train_release(train=train, schema=schema, config=config, ledger=ledger,
                                    run_key=f"cli:{os.getpid()}:{time.time_ns()}",
                                    model_dir=output.with_suffix("").with_name(output.stem + "_model"),
                                    drop_rows=len(frame))
    synthetic = pipeline.sample_release(result["model_dir"], rows=result["synthetic_rows"],
                                        seed=config.seed)
    output.parent.mkdir(parents=True, exist_ok=True)
    if output.suffix.lower() in (".parquet", ".pq"):
        synthetic.to_parquet(output, index=False)
    else:
        synthetic.to_csv(output, index=False)
    _emit({"generator": result["generator"], "epsilon": result["privacy"]["epsilon_spent"],
           "delta": result["privacy"]["delta"], "rows": len(synthetic),
           "seconds": round(time.perf_counter() - started, 2), "output": str(output),
           "model_dir": result["model_dir"], "warnings": validation.warnings})
    return 0


# -- config -----------------------------------------------------------------------------
def _facts(args):
    from synth_pipeline.privacy.config import DatasetFacts

    if args.input:
        from synth_pipeline.data_io import read_drop
        from synth_pipeline.profiling import dataset_facts, profile_dataset
        from synth_pipeline.schema import load_schema

        if not args.schema:
            raise UsageError("--input needs --schema")
        schema = load_schema(args.schema)
        return dataset_facts(profile_dataset(read_drop(args.input, schema), schema), holdout_fraction=0.2)
    if not args.rows or not args.columns:
        raise UsageError("give the data size: --rows N --columns C, or --input FILE --schema FILE")
    return DatasetFacts(n_rows=args.rows, n_columns=args.columns)


def cmd_validate_config(args) -> int:
    from synth_pipeline.privacy.config import SynthesisConfig, validate

    try:
        raw = json.loads(Path(args.config).read_text(encoding="utf-8")) if args.config else {}
    except (OSError, json.JSONDecodeError) as exc:
        raise UsageError(f"cannot read config {args.config}: {exc}") from None
    overrides = {k: getattr(args, k) for k in ("generator", "epsilon", "delta", "epochs", "batch_size")
                 if getattr(args, k) is not None}
    try:
        config = SynthesisConfig.from_dict({**raw, **overrides})
    except (TypeError, ValueError) as exc:
        raise UsageError(str(exc)) from None
    result = validate(config, _facts(args))
    _emit({k: v for k, v in result.as_dict().items()})
    return 0 if result.is_valid else 1


def cmd_recommend_config(args) -> int:
    from synth_pipeline.privacy.config import recommend, validate

    facts = _facts(args)
    config = recommend(facts, quality=args.quality)
    result = validate(config, facts)
    _emit({"is_valid": result.is_valid, "errors": result.errors, "warnings": result.warnings,
           "recommended_config": config.as_dict(), "plan": result.plan, "privacy_level": result.privacy_level})
    return 0


# -- ledger -------------------------------------------------------------------------------
def _ledger(args):
    from synth_pipeline.privacy.ledger import PrivacyLedger

    return PrivacyLedger(args.ledger, default_budget_epsilon=args.budget_epsilon, default_budget_delta=args.budget_delta)


def _spend_lines(spend: dict) -> list[str]:
    window = f", counting the last {spend['window_days']:g} days" if spend["window_days"] else ""
    cap = f", per-release cap ε={spend['per_release_epsilon']:g}" if spend["per_release_epsilon"] else ""
    return [f"{spend['dataset']}: budget ε={spend['budget_epsilon']:g}, δ={spend['budget_delta']:g} "
            f"({spend['composition']} composition{cap}{window})",
            f"  spent ε={spend['spent_epsilon']:.4g} (basic {spend['spent_epsilon_basic']:.4g}, "
            f"tight {spend['spent_epsilon_tight']:.4g}) over {spend['events']} event(s); "
            f"left ε={spend['remaining_epsilon']:.4g}"]


def _event_line(event: dict) -> str:
    return (f"{event['created_at']}  {event['dataset']}  {event['status']:<9}  ε={event['epsilon']:.4g}  "
            f"δ={event['delta']:.3g}  {event['mechanism']}  run={event['run_key']}")


def cmd_ledger(args) -> int:
    """Text for people by default; ``--json`` for scripts."""
    ledger = _ledger(args)
    if args.ledger_command == "show":
        datasets = [args.dataset] if args.dataset else ledger.datasets()
        result = {"ledger": str(ledger.path), "datasets": [ledger.spend(d).as_dict() for d in datasets]}
        lines = [line for d in result["datasets"] for line in _spend_lines(d)] or ["no dataset in the ledger yet"]
    elif args.ledger_command == "set-budget":
        budget = ledger.set_budget(args.dataset, epsilon=args.epsilon, delta=args.delta,
                                   composition=args.composition, per_release_epsilon=args.per_release_epsilon,
                                   window_days=args.window_days, note=args.note or "set from the CLI")
        result = {"dataset": budget.dataset, "budget": budget.__dict__, "spend": ledger.spend(args.dataset).as_dict()}
        lines = _spend_lines(result["spend"])
    elif args.ledger_command == "history":
        result = {"ledger": str(ledger.path), "events": ledger.history(args.dataset)}
        lines = [_event_line(e) for e in result["events"]] or ["no event recorded"]
    else:  # export
        events = ledger.history(args.dataset)
        if args.format == "json":
            text = json.dumps(events, indent=2, default=str)
        else:
            buffer = io.StringIO()
            fields = list(events[0]) if events else ["event_id"]
            writer = csv.DictWriter(buffer, fieldnames=fields)
            writer.writeheader()
            for event in events:
                writer.writerow({**event, "params": json.dumps(event["params"], sort_keys=True)})
            text = buffer.getvalue()
        Path(args.output).write_text(text, encoding="utf-8")
        result = {"exported": len(events), "output": args.output, "format": args.format}
        lines = [f"exported {len(events)} event(s) to {args.output} ({args.format})"]
    if args.json:
        _emit(result)
    else:
        print("\n".join(lines))
    return 0


# -- demo ----------------------------------------------------------------------------------
def cmd_demo(args) -> int:
    """The whole chain on the bundled sample, recorded in the repository's Dagster instance."""
    from synth_pipeline.defs.resources import project_root

    root = project_root()
    os.chdir(root)  # dagster.yaml's storage paths are relative to the repository root
    os.environ.setdefault("DAGSTER_HOME", str(root))
    import dagster as dg

    from synth_pipeline.definitions import defs
    from synth_pipeline.defs.partitions import data_drops

    incoming = root / "data" / "incoming" / DEMO_PARTITION
    incoming.parent.mkdir(parents=True, exist_ok=True)
    if not incoming.exists():
        shutil.copyfile(root / SAMPLE_DROP, incoming)
    instance = dg.DagsterInstance.get()
    if not instance.has_dynamic_partition(data_drops.name, DEMO_PARTITION):
        instance.add_dynamic_partitions(data_drops.name, [DEMO_PARTITION])
    given = {"generator": args.generator, "epochs": args.epochs}
    run_config = {"ops": {"dp_config": {"config": {"epsilon": args.epsilon,
                                                   **{k: v for k, v in given.items() if v is not None}}}}}
    log.info("materializing the whole chain for partition %s (ε=%s)", DEMO_PARTITION, args.epsilon)
    result = defs.resolve_job_def("synthesize_release").execute_in_process(
        partition_key=DEMO_PARTITION, instance=instance, run_config=run_config, raise_on_error=False)
    failed_checks = [e for e in result.get_asset_check_evaluations() if not e.passed]
    if not result.success or failed_checks:
        reasons = [f"gate {e.check_name} on {e.asset_key.to_user_string()} failed: {e.description}"
                   for e in failed_checks]
        reasons += [f"step {ev.step_key} failed: {ev.event_specific_data.error.message.strip().splitlines()[0]}"
                    for ev in result.all_events if ev.is_step_failure
                    and "DagsterAssetCheckFailedError" not in ev.event_specific_data.error.message]
        _emit({"success": False, "run_id": result.run_id, "reasons": reasons})
        return 1
    report = result.output_for_node("compliance_report")
    model = result.output_for_node("dp_model")
    gates = result.output_for_node("audit_metrics")["gates"]
    _emit({"success": True, "run_id": result.run_id, "partition": DEMO_PARTITION, "generator": model["generator"],
           "epsilon_spent": model["privacy"]["epsilon_spent"], "delta": model["privacy"]["delta"],
           "gates_passed": f"{sum(g['passed'] for g in gates)} of {len(gates)}",
           "released_table": result.output_for_node("released")["csv"],
           "release": {k: v for k, v in result.output_for_node("released").items() if k != "csv"},
           "internal_review": report,
           "ui": "DAGSTER_HOME=$PWD .venv/bin/dagster dev  (then open http://localhost:3000)"})
    return 0


# -- parser -------------------------------------------------------------------------------
def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="synth-pipeline",
                                     description="DP synthetic tables: the demo, synthesis, config checks and the privacy ledger.")
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress to stderr")
    sub = parser.add_subparsers(dest="command", required=True)

    demo = sub.add_parser("demo", help="run the whole chain on the bundled sample in the local Dagster instance")
    demo.add_argument("--epsilon", type=_positive_float, default=3.0, help="ε of this release (default 3)")
    demo.add_argument("--generator", help="aim, mst, dp-tvae or dp-ctgan (default: recommended for the sample: aim)")
    demo.add_argument("--epochs", type=_positive_int, help="training epochs of dp-tvae/dp-ctgan (default: recommended)")
    demo.set_defaults(func=cmd_demo)

    def ledger_options(p):
        p.add_argument("--ledger", default="data/state/ledger.duckdb", help="ledger file (DuckDB)")
        p.add_argument("--budget-epsilon", type=_positive_float, default=10.0,
                       help="budget ε given to a dataset on first use (default 10)")
        p.add_argument("--budget-delta", type=_positive_float, default=1e-5,
                       help="budget δ given to a dataset on first use (default 1e-5)")

    syn = sub.add_parser("synthesize", help="profile, scan, validate, charge, fit and sample outside Dagster")
    syn.add_argument("--input", required=True, help="the private table (CSV or Parquet)")
    syn.add_argument("--schema", required=True, help="its public schema (YAML)")
    syn.add_argument("--generator",
                     help="aim, mst, dp-tvae or dp-ctgan (default: the one recommended for this table and ε); "
                          "tvae and ctgan are non-private twins")
    syn.add_argument("--epsilon", type=_positive_float, required=True, help="ε of this release (charged)")
    syn.add_argument("--delta", type=_positive_float, help="default: min(1e-5, 0.1/n)")
    syn.add_argument("--rows", type=_positive_int, help="synthetic rows (default: a DP estimate of the training rows)")
    syn.add_argument("--epochs", type=_positive_int, help="training epochs (default: recommended for n)")
    syn.add_argument("--batch-size", type=_positive_int, help="expected batch size (default: recommended for n)")
    syn.add_argument("--seed", type=int, default=0, help="seed of training and sampling (default 0)")
    syn.add_argument("--output", required=True, help="output file (.csv or .parquet)")
    ledger_options(syn)
    syn.set_defaults(func=cmd_synthesize)

    for name, func, help_text in (("validate-config", cmd_validate_config, "validate a config against the data size"),
                                  ("recommend-config", cmd_recommend_config, "recommend a config for the data size")):
        p = sub.add_parser(name, help=help_text)
        p.add_argument("--input", help="the table (CSV or Parquet), to read its size")
        p.add_argument("--schema", help="its public schema (YAML)")
        p.add_argument("--rows", type=_positive_int, help="the public row bound (max_rows), instead of --input")
        p.add_argument("--columns", type=_positive_int, help="modelled columns, instead of --input")
        if name == "validate-config":
            p.add_argument("--config", help="JSON file with config fields")
            p.add_argument("--generator", help="aim, mst, dp-tvae, dp-ctgan, tvae or ctgan")
            p.add_argument("--epsilon", type=float, help="target ε")
            p.add_argument("--delta", type=float, help="δ (default: min(1e-5, 0.1/n))")
            p.add_argument("--epochs", type=int, help="training epochs")
            p.add_argument("--batch-size", type=int, help="expected batch size")
        else:
            p.add_argument("--quality", choices=("privacy", "balanced", "utility"), default="balanced")
        p.set_defaults(func=func)

    led = sub.add_parser("ledger", help="inspect and set the privacy ledger")
    led_sub = led.add_subparsers(dest="ledger_command", required=True)
    show = led_sub.add_parser("show", help="budgets and spend per dataset")
    show.add_argument("dataset", nargs="?")
    setb = led_sub.add_parser("set-budget", help="set a dataset's budget (recorded, never overwritten)")
    setb.add_argument("dataset")
    setb.add_argument("--epsilon", type=_positive_float, required=True)
    setb.add_argument("--delta", type=_positive_float, required=True)
    setb.add_argument("--composition", choices=("tight", "basic"), default="tight")
    setb.add_argument("--per-release-epsilon", type=_positive_float)
    setb.add_argument("--window-days", type=_positive_float,
                      help="policy window: only events of the last N days count against the budget")
    setb.add_argument("--note")
    hist = led_sub.add_parser("history", help="every DP event with its status")
    hist.add_argument("dataset", nargs="?")
    exp = led_sub.add_parser("export", help="export events for auditors (CSV or JSON)")
    exp.add_argument("dataset", nargs="?")
    exp.add_argument("--format", choices=("csv", "json"), default="csv")
    exp.add_argument("--output", required=True)
    for p in (show, setb, hist, exp):
        ledger_options(p)
        p.add_argument("--json", action="store_true", help="print JSON instead of text")
    led.set_defaults(func=cmd_ledger)
    for module in COMMAND_MODULES:  # commands kept in their own modules register themselves
        importlib.import_module(module).register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    from synth_pipeline.data_io import DropReadError
    from synth_pipeline.privacy.accounting import CalibrationError
    from synth_pipeline.privacy.ledger import LedgerError
    from synth_pipeline.schema import SchemaError

    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose or args.command == "demo" else logging.WARNING,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    try:
        return args.func(args)
    except (UsageError, DropReadError, SchemaError, LedgerError, CalibrationError, ValueError) as exc:
        print(f"synth-pipeline {args.command}: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
