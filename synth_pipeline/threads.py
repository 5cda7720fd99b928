"""How many threads one run's numeric libraries may use, so that concurrent runs on one machine
share its cores instead of thrashing them.

Reads no data. OpenMP (scikit-learn's HistGradientBoosting, torch) and BLAS start one thread
per core by default; with two runs, or a run beside other work, the threads spin against each
other (an attribute-inference fit that takes seconds on a quiet machine took over 20 minutes at
load 7). ``thread_budget(n)`` caps every pool already loaded (threadpoolctl), torch's intra-op
pool, and, through the environment, the pools of libraries loaded later in the process or in
its children (OpenMP reads OMP_NUM_THREADS when it starts).
"""

from __future__ import annotations

import logging
import os
import sys
from contextlib import contextmanager

log = logging.getLogger(__name__)

_ENV = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


def available_cores() -> int:
    """The cores this process may run on (its CPU affinity, which containers and taskset narrow)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)


def threads_per_run(*, concurrent_runs: int, setting: int | None = None) -> int:
    """``setting`` when given (≥ 1), else the cores divided by the runs that may run at once."""
    if setting is not None and setting > 0:
        return int(setting)
    return max(1, available_cores() // max(1, int(concurrent_runs)))


@contextmanager
def thread_budget(threads: int | None):
    """Cap the numeric libraries at ``threads`` inside the block; None leaves them alone."""
    if threads is None:
        yield
        return
    from threadpoolctl import threadpool_limits

    saved_env = {k: os.environ.get(k) for k in _ENV}
    os.environ.update({k: str(threads) for k in _ENV})
    torch = sys.modules.get("torch")
    saved_torch = torch.get_num_threads() if torch is not None else None
    if torch is not None:
        torch.set_num_threads(threads)
    try:
        with threadpool_limits(limits=threads):
            yield
    finally:
        for key, value in saved_env.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        if saved_torch is not None:
            torch.set_num_threads(saved_torch)
