"""`synth-pipeline compare`: a sweep of generators and ε values on one drop, one Dagster run
per setting in the local instance, then one comparison report (HTML, JSON, chart).

Every run is a release charged to the dataset's ledger; the budget refuses what does not
fit, and the comparison lists that run with the refusal.
"""

from __future__ import annotations

import logging
import os
import shutil

log = logging.getLogger("synth_pipeline")


def cmd_compare(args) -> int:
    from synth_pipeline.cli import DEMO_PARTITION, SAMPLE_DROP, UsageError, emit
    from synth_pipeline.defs.resources import project_root
    from synth_pipeline.privacy.config import GENERATORS, NON_PRIVATE_GENERATORS

    unknown = sorted(set(args.generators) - set(GENERATORS))
    if unknown:
        raise UsageError(f"unknown generator(s) {unknown}; choose from {list(GENERATORS)}")
    root = project_root()
    os.chdir(root)  # dagster.yaml's storage paths are relative to the repository root
    os.environ.setdefault("DAGSTER_HOME", str(root))
    import dagster as dg

    from synth_pipeline.definitions import build_definitions
    from synth_pipeline.defs.partitions import data_drops
    from synth_pipeline.defs.resources import LedgerResource, ProjectFiles
    from synth_pipeline.defs.sweep import run_sweep

    files = ProjectFiles()
    partition = args.partition or DEMO_PARTITION
    instance = dg.DagsterInstance.get()
    if partition == DEMO_PARTITION and not files.drop_path(partition).exists():
        files.drop_path(partition).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(root / SAMPLE_DROP, files.drop_path(partition))
    if not files.drop_path(partition).exists():
        raise UsageError(f"no drop {partition!r} in {files.path(files.incoming_dir)}")
    if not instance.has_dynamic_partition(data_drops.name, partition):
        instance.add_dynamic_partitions(data_drops.name, [partition])
    settings = [{"generator": g, "epsilon": e} for g in args.generators
                for e in (args.epsilons[:1] if g in NON_PRIVATE_GENERATORS else args.epsilons)]
    base = {"epochs": args.epochs} if args.epochs else {}
    log.info("sweep of %d run(s) on %s", len(settings), partition)
    comparison, paths = run_sweep(defs=build_definitions(), instance=instance, partition=partition, settings=settings,
                                  files=files, ledger=LedgerResource(), base_config=base)
    emit({"sweep_id": comparison["sweep_id"], "partition": partition,
          "runs": [{k: r.get(k) for k in ("label", "run_id", "status", "epsilon", "utility")}
                   for r in comparison["runs"]],
          "best_released_by_utility": comparison["best_released_by_utility"],
          "report": {k: str(v) for k, v in paths.items()}})
    return 0


def register(subparsers) -> None:
    from synth_pipeline.cli import positive_float, positive_int

    p = subparsers.add_parser("compare", help="run the chain for several generators and ε values on one drop "
                                              "(each run charged) and write one comparison report")
    p.add_argument("--generators", nargs="+", default=["dp-tvae", "dp-ctgan"],
                   help="generators to compare (non-private twins run once, at the first ε, charging nothing)")
    p.add_argument("--epsilons", nargs="+", type=positive_float, default=[1.0, 3.0],
                   help="ε values for the DP generators (default 1 3); each run is charged to the ledger")
    p.add_argument("--partition", help="drop in data/incoming/ (default: the bundled sample)")
    p.add_argument("--epochs", type=positive_int, help="training epochs (default: recommended)")
    p.set_defaults(func=cmd_compare)
