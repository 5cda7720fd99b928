"""The release job as Dagster's multiprocess executor rebuilds it in each step's process: from
the environment (SYNTH_PIPELINE_ROOT, SYNTH_PIPELINE_LEDGER), as a deployment would. The steps
fork from a server that keeps the environment it first started with (definitions.py): one test
of a process may run such a job, or all with the same environment."""


def release_job():
    from synth_pipeline.definitions import build_definitions

    return build_definitions().resolve_job_def("synthesize_release")
