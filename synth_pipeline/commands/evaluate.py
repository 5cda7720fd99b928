"""`synth-pipeline evaluate` (alias `audit`): the evaluation suite and the release gates on any three tables, outside Dagster.

Reads private values (the real train and holdout tables), not DP; prints aggregates only:
the metrics and each gate's verdict as one JSON object, for the internal review.
"""

from __future__ import annotations


def cmd_evaluate(args) -> int:
    """Exit 0 when every gate passes, 1 when one fails (the JSON says which), 2 on bad input."""
    from synth_pipeline.cli import UsageError, emit
    from synth_pipeline.data_io import read_drop
    from synth_pipeline.evaluation.suite import evaluate_synthetic
    from synth_pipeline.evaluation.gates import AuditPolicy, load_policy
    from synth_pipeline.schema import load_schema

    schema = load_schema(args.schema)
    policy = load_policy(args.policy) if args.policy else AuditPolicy()
    tables = {name: read_drop(getattr(args, name), schema) for name in ("train", "holdout", "synthetic")}
    if schema.label is not None:
        missing = [name for name, frame in tables.items() if schema.label not in frame.columns]
        if missing:
            raise UsageError(f"label column {schema.label!r} is missing from: {', '.join(missing)}")
    for name, frame in tables.items():
        absent = [c.name for c in schema.modelled_columns if c.name not in frame.columns]
        if absent:
            raise UsageError(f"--{name} lacks schema column(s) {absent}")
    metrics = evaluate_synthetic(real_train=tables["train"], holdout=tables["holdout"], synthetic=tables["synthetic"],
                        schema=schema, policy=policy, seed=args.seed, max_rows=args.max_rows)
    emit({"policy": args.policy or "defaults (same as data/release_policy.yaml)", **metrics})
    return 0 if metrics["passed"] else 1


def register(subparsers) -> None:
    from synth_pipeline.cli import positive_int

    p = subparsers.add_parser("evaluate", aliases=["audit"],
                              help="utility, subgroup and privacy-attack metrics with the release gates",
                              description="Audit a synthetic table against the real training rows and a real "
                                          "holdout no generator saw. Not DP: internal review only.")
    p.add_argument("--train", required=True, help="the real rows the generator was trained on (CSV or Parquet)")
    p.add_argument("--holdout", required=True, help="real rows the generator never saw (CSV or Parquet)")
    p.add_argument("--synthetic", required=True, help="the synthetic table (CSV or Parquet)")
    p.add_argument("--schema", required=True, help="the public schema (YAML): types, bounds, categories, roles")
    p.add_argument("--policy", help="release policy YAML (default: the thresholds of data/release_policy.yaml)")
    p.add_argument("--seed", type=int, default=0, help="seed of every subsample and model (default 0)")
    p.add_argument("--max-rows", type=positive_int, default=20_000,
                   help="rows per side for model fits (default 20000)")
    p.set_defaults(func=cmd_evaluate)
