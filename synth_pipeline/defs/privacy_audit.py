"""The empirical privacy audit as an opt-in asset with a blocking gate, its own job and a
schedule. Not part of ``synthesize_release``: it costs one extra fit, so the release policy
runs it on demand (a new generator version) and on the schedule. Thin: the core is
``synth_pipeline.privacy_audit``.

Reads private values (the drop's training split), NOT DP: the result is an internal
statistic (docs/privacy.md, invariant 4); its metadata holds counts and ε figures only.
"""

import dagster as dg

from synth_pipeline.chain.results import Drop, ResolvedConfig, Split
from synth_pipeline.defs.partitions import data_drops
from synth_pipeline.defs.resources import ProjectFiles
from synth_pipeline.defs.schedules import latest_drop_request
from synth_pipeline.privacy_audit import run_privacy_audit


class PrivacyAuditConfig(dg.Config):
    """``auditor``: empty takes the sharpest for the generator (gradient canaries in DP-SGD's
    noisy sums; measurement canaries in AIM's and MST's Gaussian measurements); black-box
    (synthetic rows only) and white-box (per-record loss, DP-SGD generators) on request;
    ``canaries``: m (default 1,000, capped at a fifth of the rows)."""

    auditor: str | None = None
    canaries: int | None = None
    confidence: float = 0.95


@dg.asset(partitions_def=data_drops, group_name="privacy_audit", kinds={"pytorch"})
def privacy_audit(context: dg.AssetExecutionContext, config: PrivacyAuditConfig, raw_dataset: Drop,
                  holdout_split: Split, dp_config: ResolvedConfig, files: ProjectFiles) -> dict:
    """One-run canary audit of the configured generator: an empirical ε lower bound next to
    the claimed ε. Reads the training split, NOT DP, internal; its fit is never released."""
    if not dp_config.is_valid:
        raise dg.Failure(description="the release config is invalid: fix it before auditing")
    train, _ = holdout_split.apply(raw_dataset)
    result = run_privacy_audit(train=train, schema=files.schema(), config=dp_config.config, auditor=config.auditor,
                               canaries=config.canaries, confidence=config.confidence)
    context.add_output_metadata({
        "generator": result["generator"], "auditor": result["auditor"],
        "claimed_epsilon": result["claimed_epsilon"] if result["claimed_epsilon"] is not None else "none (NOT DP)",
        "empirical_epsilon_lower_bound": result["empirical_epsilon_lower_bound"],
        "confidence": result["confidence"], "canaries": result["canaries"], "guesses": result["guesses"],
        "correct": result["correct"], "seconds": result["seconds"], "internal_non_dp": result["note"]})
    return result


@dg.asset_check(asset=privacy_audit, blocking=True,
                description="The audit's empirical ε lower bound does not exceed the claimed ε")
def privacy_audit_gate(privacy_audit: dict) -> dg.AssetCheckResult:
    return dg.AssetCheckResult(
        passed=bool(privacy_audit["gate"]["passed"]),
        metadata={"empirical_epsilon_lower_bound": privacy_audit["empirical_epsilon_lower_bound"],
                  "claimed_epsilon": privacy_audit["claimed_epsilon"] if privacy_audit["claimed_epsilon"] is not None
                  else "none (NOT DP)", "confidence": privacy_audit["confidence"]},
        description=privacy_audit["gate"]["message"])


privacy_audit_job = dg.define_asset_job(
    "privacy_audit_job", selection=dg.AssetSelection.assets(privacy_audit), partitions_def=data_drops,
    description="empirical privacy audit of the latest release config (one extra fit; internal, not DP)")


@dg.schedule(job=privacy_audit_job, cron_schedule="0 3 * * 0", execution_timezone="UTC",
             default_status=dg.DefaultScheduleStatus.STOPPED)
def weekly_privacy_audit(context: dg.ScheduleEvaluationContext):
    """Weekly: audit the latest drop's release config (costs one fit; nothing is released)."""
    return latest_drop_request(context, run_key_prefix="audit:")
