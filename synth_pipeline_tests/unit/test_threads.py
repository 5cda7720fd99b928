"""Thread budgets: concurrent runs share the cores instead of each starting one thread per core."""

import os
import subprocess
import sys

import pytest

from synth_pipeline.threads import available_cores, thread_budget, threads_per_run


def test_threads_per_run_divides_the_cores_and_a_setting_wins(monkeypatch):
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: set(range(8)))
    assert available_cores() == 8
    assert threads_per_run(concurrent_runs=1) == 8
    assert threads_per_run(concurrent_runs=3) == 2
    assert threads_per_run(concurrent_runs=16) == 1  # never zero
    assert threads_per_run(concurrent_runs=2, setting=5) == 5
    assert threads_per_run(concurrent_runs=2, setting=0) == 4  # 0: the default


def test_thread_budget_caps_loaded_pools_and_restores_them():
    from threadpoolctl import threadpool_info

    import sklearn.ensemble  # noqa: F401 - loads scikit-learn's OpenMP runtime
    import torch

    before_torch = torch.get_num_threads()
    before_env = os.environ.get("OMP_NUM_THREADS")
    with thread_budget(1):
        assert torch.get_num_threads() == 1
        assert os.environ["OMP_NUM_THREADS"] == "1"
        assert all(pool["num_threads"] == 1 for pool in threadpool_info())
    assert torch.get_num_threads() == before_torch
    assert os.environ.get("OMP_NUM_THREADS") == before_env


def test_thread_budget_reaches_libraries_loaded_inside_it():
    """A step process imports torch and scikit-learn inside the stage: the budget must hold for them too."""
    code = ("from synth_pipeline.threads import thread_budget\n"
            "with thread_budget(1):\n"
            "    import torch, sklearn.ensemble\n"
            "    from threadpoolctl import threadpool_info\n"
            "    print(torch.get_num_threads(), max(p['num_threads'] for p in threadpool_info()))\n")
    env = {k: v for k, v in os.environ.items() if k not in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True).stdout
    assert out.split() == ["1", "1"]


@pytest.mark.parametrize("threads", [None])
def test_no_budget_leaves_the_libraries_alone(threads):
    before = os.environ.get("OMP_NUM_THREADS")
    with thread_budget(threads):
        assert os.environ.get("OMP_NUM_THREADS") == before
