"""The Dagster code location: `dg dev`, `dg list defs`, `dg check defs`, `dagster dev` and
`dagster definitions validate` load ``defs``, built from the ``defs/`` folder."""

from pathlib import Path

import dagster as dg

from synth_pipeline.defs.io import DropReferenceIOManager
from synth_pipeline.defs.resources import DEFAULT_BUDGETS, LedgerResource, ProjectFiles

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def build_definitions(*, files: ProjectFiles | None = None, ledger: LedgerResource | None = None) -> dg.Definitions:
    """Every asset, check, job, sensor and schedule of ``defs/``, with the project's
    resources (or the given ones: tests point them at a temporary project)."""
    files = files or ProjectFiles()
    loaded = dg.load_from_defs_folder(path_within_project=Path(__file__).parent)
    return dg.Definitions(
        assets=loaded.assets, asset_checks=loaded.asset_checks, jobs=loaded.jobs, sensors=loaded.sensors,
        schedules=loaded.schedules,
        resources={"files": files, "ledger": ledger or LedgerResource(budgets_path=DEFAULT_BUDGETS),
                   "drop_io_manager": DropReferenceIOManager(files=files)},
    )


@dg.definitions
def defs() -> dg.Definitions:
    return build_definitions()
