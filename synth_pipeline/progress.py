"""Progress lines of the long steps (AIM and MST rounds, DP-SGD epochs, the evaluation's
metrics, the privacy audit's phases), as Python log records under ``synth_pipeline``.

They reach the Dagster run log through ``python_logs.managed_python_loggers`` in
``dagster.yaml`` and the CLI's stderr through ``synth_pipeline.console`` (a bar on a
terminal). Each record carries its facts in ``record.progress`` (task, share done, elapsed
seconds and the step's own facts), so a console can draw a bar without parsing the text.

What a line may hold (docs/privacy.md, invariant 5): round and phase numbers, public schema
names, DP facts (ρ or ε spent, cliques picked by a DP mechanism) and timing. Never a count, a
value or a loss computed on private rows, nor anything derived from the private n.
"""

from __future__ import annotations

import logging
import time
from contextlib import contextmanager
from typing import Callable, Iterator

# At most one INFO line per loop every this many seconds (the first and the final always):
# a 6-minute AIM fit gives about 70 lines, not thousands. The other rounds log at DEBUG.
EVERY_SECONDS = 5.0


def rho_spent(budget) -> str:
    """A DP fact: a zCDP budget's ρ spent so far, as a value and as a share of its ρ."""
    return f"ρ spent {budget.spent:.4g} of {budget.rho:.4g} ({100 * budget.spent / budget.rho:.0f}%)"


class Rounds:
    """Rate-limited round lines of one loop (``task``: "aim", "mst", "dp-tvae", ...)."""

    def __init__(self, logger: logging.Logger, task: str, *, every: float = EVERY_SECONDS,
                 clock: Callable[[], float] = time.monotonic):
        self.logger, self.task, self.every, self.clock = logger, task, every, clock
        self.started = clock()
        self._last_info: float | None = None

    @property
    def elapsed(self) -> float:
        return self.clock() - self.started

    def line(self, message: str, *args, done: float, final: bool = False, **facts) -> None:
        """One round: INFO when it is the first, the final or ``every`` seconds after the last
        INFO line, DEBUG otherwise. ``done`` is the share of the loop done (0 to 1), ``facts``
        the round's public or DP facts for ``record.progress``."""
        now = self.clock()
        due = final or self._last_info is None or now - self._last_info >= self.every
        if due:
            self._last_info = now
        elapsed = now - self.started
        self.logger.log(logging.INFO if due else logging.DEBUG, f"{message} ({elapsed:.1f} s)", *args,
                        extra={"progress": {"task": self.task, "done": min(max(done, 0.0), 1.0),
                                            "elapsed": round(elapsed, 3), "final": final, **facts}})


@contextmanager
def phase(logger: logging.Logger, task: str, name: str, *, number: int, total: int,
          clock: Callable[[], float] = time.monotonic) -> Iterator[None]:
    """Two INFO lines around phase ``number`` of ``total``: started, then done (or failed) with
    its elapsed seconds. Names are the code's own (metric or phase names), never data."""
    started = clock()
    prefix = f"{task} {number}/{total}: {name}"
    logger.info("%s started", prefix, extra={"progress": {"task": task, "done": (number - 1) / total,
                                                           "elapsed": 0.0, "final": False, "phase": name}})
    outcome = "failed"
    try:
        yield
        outcome = "done"
    finally:
        elapsed = clock() - started
        logger.info("%s %s in %.1f s", prefix, outcome, elapsed,
                    extra={"progress": {"task": task, "done": number / total, "elapsed": round(elapsed, 3),
                                        "final": number == total, "phase": name}})
