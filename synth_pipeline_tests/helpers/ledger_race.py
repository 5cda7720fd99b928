"""Worker for the ledger concurrency test (unit/privacy/test_ledger.py), a module of its own so
'spawn' children import it cheaply."""

from __future__ import annotations

import traceback


def reserve_many(path: str, worker: int, attempts: int, barrier, results) -> None:
    """Open a PrivacyLedger of this process's own on ``path`` and race the others for the budget."""
    accepted, refused, unexpected = 0, 0, []
    try:
        from synth_pipeline.privacy.ledger import BudgetExceededError, PrivacyLedger

        barrier.wait(timeout=120)  # start together: the opens race too
        ledger = PrivacyLedger(path, lock_timeout_s=120)
        for i in range(attempts):
            try:
                ledger.reserve(dataset="race", run_key=f"worker{worker}-run{i}", mechanism="gaussian",
                               params={"noise_multiplier": 5.0}, epsilon=1.0, delta=1e-6)
                accepted += 1
            except BudgetExceededError:
                refused += 1
            except Exception:  # noqa: BLE001 - reported to the parent, which fails the test
                unexpected.append(traceback.format_exc())
    except Exception:  # noqa: BLE001
        unexpected.append(traceback.format_exc())
    results.put({"worker": worker, "accepted": accepted, "refused": refused, "unexpected": unexpected})
