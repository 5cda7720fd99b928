import dagster as dg

from synth_pipeline.defs.partitions import data_drops

# The whole chain for one drop (asset checks included, so the gates block within the run).
synthesize_release = dg.define_asset_job(
    "synthesize_release", selection=dg.AssetSelection.groups("synthesis"), partitions_def=data_drops,
    description="raw drop → profile → PII scan → config → DP model → synthetic table → audit → report → release")

# Recompute the audit and the report of an existing release (no training, no budget spent);
# under the current release policy, so a table that now passes every gate is released.
refresh_audit = dg.define_asset_job(
    "refresh_audit", selection=dg.AssetSelection.assets("audit_metrics", "compliance_report", "released"),
    partitions_def=data_drops, description="re-audit the latest release, rewrite its report, release if it passes")
