"""`synth-pipeline privacy-audit`: the one-run canary audit of one generator on one table.

Reads private values (the input table), NOT DP: prints an internal statistic (claimed ε,
empirical ε lower bound, confidence, canaries, guesses made and correct), never a row or a
value. The audit's fit is never released and charges no ledger.
"""

from __future__ import annotations


def register(subparsers) -> None:
    from synth_pipeline.cli import add_config_flags, positive_int

    p = subparsers.add_parser(
        "privacy-audit", help="empirical ε lower bound of a generator (one-run canary audit; internal, not DP)")
    p.add_argument("--input", required=True, help="the private table (CSV or Parquet)")
    p.add_argument("--schema", required=True, help="its public schema (YAML)")
    add_config_flags(p, only=("generator", "epsilon", "delta", "epochs", "batch_size"),
                     required=("generator", "epsilon"))
    p.add_argument("--canaries", type=positive_int, help="canaries m (default 1,000, capped at a fifth of the rows)")
    p.add_argument("--auditor", choices=("black-box", "white-box", "gradient", "measurement"), default=None,
                   help="default: the sharpest for the generator (gradient: canaries in DP-SGD's noisy sums; "
                        "measurement: canaries in AIM's and MST's Gaussian measurements); black-box: synthetic "
                        "rows only; white-box: the model's per-record loss (DP-SGD generators)")
    p.add_argument("--seed", type=int, default=0, help="seed of canaries, coin flips and training (default 0)")
    p.add_argument("--confidence", type=float, default=0.95, help="confidence of the lower bound (default 0.95)")
    p.set_defaults(func=cmd_privacy_audit)


def cmd_privacy_audit(args) -> int:
    """The chain's own stages up to the split (raw-data, PII and config gates included), then
    the audit's fit of the training split."""
    import uuid

    from synth_pipeline.chain import ReleaseChain
    from synth_pipeline.chain.gates import describe
    from synth_pipeline.cli import UsageError, emit
    from synth_pipeline.privacy.ledger import PrivacyLedger
    from synth_pipeline.privacy_audit import CanaryError, run_privacy_audit
    from synth_pipeline.schema import load_schema

    if not 0 < args.confidence < 1:
        raise UsageError(f"--confidence must lie in (0, 1), got {args.confidence}")
    import tempfile

    schema = load_schema(args.schema)
    with tempfile.TemporaryDirectory(prefix=f"privacy-audit-{uuid.uuid4().hex[:6]}-") as scratch:
        # The audit charges nothing: a scratch ledger, never the dataset's, prices nothing.
        chain = ReleaseChain(schema=schema, ledger=PrivacyLedger(f"{scratch}/ledger.duckdb"), outputs_dir=scratch)
        drop = chain.read(args.input)
        profile = chain.profile(drop)
        resolved = chain.resolve(profile, generator=args.generator, epsilon=args.epsilon, delta=args.delta,
                                 seed=args.seed, epochs=args.epochs, batch_size=args.batch_size)
        for verdict in (chain.check_raw(drop), chain.check_pii(chain.scan_pii(drop)), chain.check_config(resolved)):
            if not verdict.passed:
                raise UsageError(describe(verdict))
        train, _ = chain.split(drop, resolved).apply(drop)
    try:
        result = run_privacy_audit(train=train, schema=schema, config=resolved.config, auditor=args.auditor,
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
