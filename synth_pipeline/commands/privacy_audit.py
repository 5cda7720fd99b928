"""`synth-pipeline privacy-audit`: the one-run canary audit of one generator on one table.

Reads private values (the input table), NOT DP: prints an internal statistic (claimed ε,
empirical ε lower bound, confidence, canaries, guesses made and correct), never a row or a
value. The audit's fit is never released and charges no ledger.
"""

from __future__ import annotations


def register(subparsers) -> None:
    from synth_pipeline.cli import positive_float, positive_int

    p = subparsers.add_parser(
        "privacy-audit", help="empirical ε lower bound of a generator (one-run canary audit; internal, not DP)")
    p.add_argument("--input", required=True, help="the private table (CSV or Parquet)")
    p.add_argument("--schema", required=True, help="its public schema (YAML)")
    p.add_argument("--generator", required=True, help="dp-tvae, dp-ctgan, aim, mst, or a non-private twin (tvae, ctgan)")
    p.add_argument("--epsilon", type=positive_float, required=True, help="the claimed ε the generator is calibrated to")
    p.add_argument("--canaries", type=positive_int, help="canaries m (default 1,000, capped at a fifth of the rows)")
    p.add_argument("--auditor", choices=("black-box", "white-box", "gradient", "measurement"), default=None,
                   help="default: the sharpest for the generator (gradient: canaries in DP-SGD's noisy sums; "
                        "measurement: canaries in AIM's and MST's Gaussian measurements); black-box: synthetic "
                        "rows only; white-box: the model's per-record loss (DP-SGD generators)")
    p.add_argument("--delta", type=positive_float, help="δ (default: min(1e-5, 0.1/max_rows))")
    p.add_argument("--epochs", type=positive_int, help="training epochs (default: recommended for max_rows)")
    p.add_argument("--batch-size", type=positive_int, help="expected batch size at max_rows (default: recommended)")
    p.add_argument("--seed", type=int, default=0, help="seed of canaries, coin flips and training (default 0)")
    p.add_argument("--confidence", type=float, default=0.95, help="confidence of the lower bound (default 0.95)")
    p.set_defaults(func=cmd_privacy_audit)


def cmd_privacy_audit(args) -> int:
    from synth_pipeline import pipeline
    from synth_pipeline.cli import UsageError, emit
    from synth_pipeline.data_io import read_drop, split_holdout
    from synth_pipeline.privacy_audit import CanaryError, run_privacy_audit
    from synth_pipeline.profiling import profile_dataset
    from synth_pipeline.quality.expectations import validate_raw
    from synth_pipeline.schema import load_schema

    if not 0 < args.confidence < 1:
        raise UsageError(f"--confidence must lie in (0, 1), got {args.confidence}")
    schema = load_schema(args.schema)
    frame = read_drop(args.input, schema)
    raw = validate_raw(frame, schema)
    if not raw.success:
        raise UsageError(f"the input fails the raw-data gate: " + "; ".join(raw.problems()))
    config, validation = pipeline.resolve_config(
        profile_dataset(frame, schema), schema, generator=args.generator, epsilon=args.epsilon, delta=args.delta,
        seed=args.seed, epochs=args.epochs, batch_size=args.batch_size)
    if not validation.is_valid:
        raise UsageError("invalid config: " + "; ".join(validation.errors))
    train, _ = split_holdout(frame, holdout_fraction=config.holdout_fraction)
    try:
        result = run_privacy_audit(train=train, schema=schema, config=config, auditor=args.auditor,
                                   canaries=args.canaries, confidence=args.confidence)
    except CanaryError as exc:
        raise UsageError(str(exc)) from None
    emit({"generator": result["generator"], "auditor": result["auditor"],
          "claimed_epsilon": result["claimed_epsilon"],
          "empirical_epsilon_lower_bound": round(result["empirical_epsilon_lower_bound"], 4),
          "confidence": result["confidence"], "delta": result["delta"], "canaries": result["canaries"],
          "canaries_inserted": result["canaries_inserted"], "guesses": result["guesses"],
          "correct": result["correct"], "gate_passed": result["gate"]["passed"], "gate": result["gate"]["message"],
          "seconds": result["seconds"], "note": result["note"]})
    return 0 if result["gate"]["passed"] or not result["differentially_private"] else 1
