"""The Dagster code location: `dg dev`, `dg list defs`, `dg check defs`, `dagster dev` and
`dagster definitions validate` load ``defs``, built from the ``defs/`` folder."""

import multiprocessing
import pkgutil
from pathlib import Path

import dagster as dg

from synth_pipeline.defs.io import DropReferenceIOManager
from synth_pipeline.defs.resources import DEFAULT_BUDGETS, LedgerResource, ProjectFiles

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def _forkserver(config: dict) -> dict:
    # This module and every module of defs/ (what each step's build_definitions imports).
    # Windows has no forkserver: spawn there, as Dagster's default.
    import synth_pipeline.defs as folder

    preload = [__name__] + [f"{folder.__name__}.{m.name}" for m in pkgutil.iter_modules(folder.__path__)]
    start = ({"forkserver": {"preload_modules": preload}} if "forkserver" in multiprocessing.get_all_start_methods()
             else {"spawn": {}})
    return {"max_concurrent": config.get("max_concurrent"), "start_method": start}


# Runs launched from the UI, sensors and schedules: each step in a process of its own, forked
# from a server that has imported the project's Dagster layer once. The default (spawn)
# imported it again for every step: 5 to 11 s per step on 2 cores, about half of a run's time
# (the PostgreSQL deployment test: 155 s with spawn, 85 s with this). The server is started
# once per run process and keeps the environment it started with, so the settings read from
# the environment (SYNTH_PIPELINE_ROOT, SYNTH_PIPELINE_LEDGER) must not change within one
# process between runs: true of Dagster's run workers, one process per run.
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
