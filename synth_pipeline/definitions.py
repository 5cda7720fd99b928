"""The Dagster code location: `dagster dev` and `dagster definitions validate` load `defs`."""

import dagster as dg

from synth_pipeline.defs import assets, privacy_audit
from synth_pipeline.defs.checks import all_checks
from synth_pipeline.defs.jobs import refresh_audit, synthesize_release
from synth_pipeline.defs.resources import LedgerResource, ProjectFiles
from synth_pipeline.defs.schedules import nightly_audit_refresh
from synth_pipeline.defs.sensors import incoming_drops_sensor


def build_definitions(*, files: ProjectFiles | None = None, ledger: LedgerResource | None = None) -> dg.Definitions:
    return dg.Definitions(
        assets=[*dg.load_assets_from_modules([assets]), privacy_audit.privacy_audit],
        asset_checks=[*all_checks, privacy_audit.privacy_audit_gate],
        jobs=[synthesize_release, refresh_audit, privacy_audit.privacy_audit_job],
        sensors=[incoming_drops_sensor],
        schedules=[nightly_audit_refresh, privacy_audit.weekly_privacy_audit],
        resources={"files": files or ProjectFiles(), "ledger": ledger or LedgerResource()},
    )


defs = build_definitions()
