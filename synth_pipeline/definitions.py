"""The Dagster code location: `dg dev`, `dg list defs`, `dg check defs`, `dagster dev` and
`dagster definitions validate` load ``defs``, built from the ``defs/`` folder."""

import multiprocessing
from pathlib import Path

import dagster as dg

from synth_pipeline.defs.io import DropReferenceIOManager
from synth_pipeline.defs.resources import DEFAULT_BUDGETS, LedgerResource, ProjectFiles

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def _forkserver(config: dict) -> dict:
    # Windows has no forkserver: spawn there, as Dagster's default.
    start = ({"forkserver": {"preload_modules": [__name__]}} if "forkserver" in multiprocessing.get_all_start_methods()
             else {"spawn": {}})
    return {"max_concurrent": config.get("max_concurrent"), "start_method": start}


# Runs launched from the UI, sensors and schedules: each step in a process of its own, forked
# from a server that has imported this module once. The default (spawn) imported Dagster,
# pandas and dp-accounting again for every step: 5 to 11 s per step on 2 cores, about half of a
# run's time (measured on the PostgreSQL deployment test: 155 s with spawn, 85 s with this).
# ``execute_in_process`` (the demo, the CLI, most tests) does not use it.
STEP_PROCESSES = dg.multiprocess_executor.configured(
    _forkserver, config_schema={"max_concurrent": dg.Field(dg.Noneable(int), is_required=False, default_value=None)})


def build_definitions(*, files: ProjectFiles | None = None, ledger: LedgerResource | None = None) -> dg.Definitions:
    """Every asset, check, job, sensor and schedule of ``defs/``, with the project's
    resources (or the given ones: tests point them at a temporary project)."""
    files = files or ProjectFiles()
    loaded = dg.load_from_defs_folder(path_within_project=Path(__file__).parent)
    return dg.Definitions(
        assets=loaded.assets, asset_checks=loaded.asset_checks, jobs=loaded.jobs, sensors=loaded.sensors,
        schedules=loaded.schedules, executor=STEP_PROCESSES,
        resources={"files": files, "ledger": ledger or LedgerResource(budgets_path=DEFAULT_BUDGETS),
                   "drop_io_manager": DropReferenceIOManager(files=files)},
    )


@dg.definitions
def defs() -> dg.Definitions:
    return build_definitions()
