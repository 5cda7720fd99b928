"""The Dagster code location: `dagster dev` and `dagster definitions validate` load `defs`."""

import dagster as dg

from synth_pipeline.defs import assets
from synth_pipeline.defs.checks import all_checks
from synth_pipeline.defs.jobs import refresh_audit, synthesize_release
from synth_pipeline.defs.resources import LedgerResource, ProjectFiles
from synth_pipeline.defs.schedules import nightly_audit_refresh
from synth_pipeline.defs.sensors import incoming_drops_sensor


def build_definitions(*, files: ProjectFiles | None = None, ledger: LedgerResource | None = None) -> dg.Definitions:
    return dg.Definitions(
        assets=dg.load_assets_from_modules([assets]),
        asset_checks=all_checks,
        jobs=[synthesize_release, refresh_audit],
        sensors=[incoming_drops_sensor],
        schedules=[nightly_audit_refresh],
        resources={"files": files or ProjectFiles(), "ledger": ledger or LedgerResource()},
    )


defs = build_definitions()
