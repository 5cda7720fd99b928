import dagster as dg

from synth_pipeline.defs.partitions import data_drops

# The whole chain for one drop (asset checks included, so the gates block within the run).
synthesize_release = dg.define_asset_job(
    "synthesize_release", selection=dg.AssetSelection.groups("synthesis"), partitions_def=data_drops,
    description="raw drop → profile → PII scan → config → DP model → synthetic table → audit → report")

# Recompute the audit and the report of an existing release (no training, no budget spent).
refresh_audit = dg.define_asset_job(
    "refresh_audit", selection=dg.AssetSelection.assets("audit_metrics", "compliance_report"),
    partitions_def=data_drops, description="re-audit the latest release and rewrite its report")
