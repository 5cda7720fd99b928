import dagster as dg

from synth_pipeline.defs.partitions import data_drops

# The whole chain for one drop (asset checks included, so the gates block within the run).
synthesize_release = dg.define_asset_job(
    "synthesize_release", selection=dg.AssetSelection.groups("synthesis"), partitions_def=data_drops,
    description="raw drop → profile → PII scan → config → DP model → synthetic table → audit → report → release")

# Recompute the audit and the internal review of an existing model (no training, no budget
# spent), for the reviewers. It never releases: a model's release decision is its first
# audit's (``evaluation.release``); a new release means a new, charged fit.
refresh_audit = dg.define_asset_job(
    "refresh_audit", selection=dg.AssetSelection.assets("audit_metrics", "compliance_report"),
    partitions_def=data_drops, description="re-audit the latest model and rewrite its internal review (never "
                                           "releases: the release decision is the first audit's)")
