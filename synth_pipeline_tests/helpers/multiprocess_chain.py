"""The release job as Dagster's multiprocess executor rebuilds it in each step's process: from
the environment (SYNTH_PIPELINE_ROOT, SYNTH_PIPELINE_LEDGER), as a deployment would."""


def release_job():
    from synth_pipeline.definitions import build_definitions

    return build_definitions().resolve_job_def("synthesize_release")
