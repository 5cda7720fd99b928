"""The privacy ledger: per-dataset budgets and an append-only record of every DP event.

Reads no data. POSIX only: the lock is ``fcntl.flock`` (Linux, macOS; not reliable on
network file systems). Each operation takes an exclusive lock on a sidecar file (``.lock``), opens
the DuckDB file, runs one short transaction and closes it; a thread lock serialises
callers inside one process. DuckDB itself allows one writing process per file, which also
keeps out tools that bypass the sidecar lock. A run
reserves its planned spend before any DP computation (a refused reservation writes
nothing); a reservation counts as spent until it is either committed (DP output exists)
or refunded (it never produced DP output).
"""

from __future__ import annotations

import fcntl
import json
import logging
import random
import threading
import time
import uuid
from contextlib import contextmanager
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import duckdb

from synth_pipeline.privacy.composition import (  # noqa: F401 (Budget, Spend, COMPOSITIONS re-exported)
    COMPOSITIONS, Budget, Spend, compose_spend, dp_event_for, refusal)

log = logging.getLogger(__name__)

ACTIVE = ("reserved", "committed")  # both count against the budget
REFUNDED = "refunded"  # a reservation given back: it never produced DP output

_SCHEMA = """
CREATE SEQUENCE IF NOT EXISTS ledger_seq;
CREATE TABLE IF NOT EXISTS budgets (
    seq BIGINT, dataset VARCHAR, epsilon DOUBLE, delta DOUBLE, composition VARCHAR,
    per_release_epsilon DOUBLE, set_at TIMESTAMP, note VARCHAR);
ALTER TABLE budgets ADD COLUMN IF NOT EXISTS window_days DOUBLE;
CREATE TABLE IF NOT EXISTS charges (
    event_id VARCHAR PRIMARY KEY, seq BIGINT, dataset VARCHAR, run_key VARCHAR, partition_key VARCHAR,
    mechanism VARCHAR, params VARCHAR, epsilon DOUBLE, delta DOUBLE, accountant VARCHAR,
    created_at TIMESTAMP);
CREATE TABLE IF NOT EXISTS transitions (
    seq BIGINT, event_id VARCHAR, status VARCHAR, changed_at TIMESTAMP, note VARCHAR);
"""

_CURRENT = """
SELECT c.event_id, c.dataset, c.run_key, c.partition_key, c.mechanism, c.params, c.epsilon, c.delta,
       c.accountant, c.created_at, t.status, t.status_at
FROM charges c
JOIN (SELECT event_id, arg_max(status, seq) AS status, max(changed_at) AS status_at FROM transitions GROUP BY event_id) t
  USING (event_id)
"""

_LOCKS: dict[str, threading.Lock] = {}
_LOCKS_GUARD = threading.Lock()


class LedgerError(RuntimeError):
    """Base class of ledger errors."""


class BudgetExceededError(LedgerError):
    """A reservation that would exceed the budget; nothing was charged."""


class LedgerBusyError(LedgerError):
    """The ledger file stayed locked by another process past the retry window."""


@dataclass(frozen=True)
class Reservation:
    event_id: str
    dataset: str
    run_key: str
    epsilon: float
    delta: float
    status: str
    reused: bool = False  # the same run key had already reserved: nothing new was charged


def _path_lock(path: Path) -> threading.Lock:
    key = str(path.resolve())
    with _LOCKS_GUARD:
        return _LOCKS.setdefault(key, threading.Lock())


class PrivacyLedger:
    """Budgets and DP events for every dataset, in one DuckDB file of its own."""

    def __init__(self, path: str | Path, *, default_budget_epsilon: float | None = None,
                 default_budget_delta: float | None = None, lock_timeout_s: float = 60.0):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.default_budget_epsilon = default_budget_epsilon
        self.default_budget_delta = default_budget_delta
        self.lock_timeout_s = lock_timeout_s
        with self._transaction() as con:
            con.execute(_SCHEMA)

    # -- connection handling -------------------------------------------------
    def _connect(self) -> duckdb.DuckDBPyConnection:
        deadline = time.monotonic() + self.lock_timeout_s
        wait = 0.005
        while True:
            try:
                return duckdb.connect(str(self.path))
            except duckdb.IOException as exc:
                if "lock" not in str(exc).lower():
                    raise
                if time.monotonic() >= deadline:
                    raise LedgerBusyError(
                        f"privacy ledger {self.path} stayed locked by another process for "
                        f"{self.lock_timeout_s:.0f} s; nothing was charged. Retry, or close the other "
                        f"process holding the file (a DuckDB shell, a notebook)"
                    ) from None
                time.sleep(wait * (0.5 + random.random()))
                wait = min(wait * 2, 0.25)

    @contextmanager
    def _file_lock(self):
        """An exclusive lock on a sidecar file, polled until the deadline.

        Waiting here costs a few microseconds per poll, where retrying DuckDB's own lock costs
        a file open each time; DuckDB's lock still guards against processes (a DuckDB shell)
        that do not take this one."""
        deadline = time.monotonic() + self.lock_timeout_s
        with open(self.path.with_name(self.path.name + ".lock"), "a+") as handle:
            while True:
                try:
                    fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() >= deadline:
                        raise LedgerBusyError(
                            f"privacy ledger {self.path} stayed locked by another run for "
                            f"{self.lock_timeout_s:.0f} s; nothing was charged. Retry later") from None
                    time.sleep(0.002 + 0.003 * random.random())
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    @contextmanager
    def _thread_lock(self):
        lock = _path_lock(self.path)
        if not lock.acquire(timeout=self.lock_timeout_s):
            raise LedgerBusyError(f"privacy ledger {self.path} stayed busy in this process for "
                                  f"{self.lock_timeout_s:.0f} s; nothing was charged. Retry later")
        try:
            yield
        finally:
            lock.release()

    @contextmanager
    def _transaction(self):
        with self._thread_lock(), self._file_lock():
            con = self._connect()
            try:
                con.execute("BEGIN TRANSACTION")
                yield con
                con.execute("COMMIT")
            except BaseException:
                con.execute("ROLLBACK")
                raise
            finally:
                con.close()

    # -- budgets ---------------------------------------------------------------
    def set_budget(self, dataset: str, *, epsilon: float, delta: float, composition: str = "tight",
                   per_release_epsilon: float | None = None, window_days: float | None = None,
                   note: str = "") -> Budget:
        budget = Budget(dataset, float(epsilon), float(delta), composition, per_release_epsilon, window_days)
        with self._transaction() as con:
            self._insert_budget(con, budget, note)
        return budget

    @staticmethod
    def _insert_budget(con, budget: Budget, note: str) -> None:
        con.execute(
            "INSERT INTO budgets (seq, dataset, epsilon, delta, composition, per_release_epsilon, set_at, note, "
            "window_days) VALUES (nextval('ledger_seq'), ?, ?, ?, ?, ?, now(), ?, ?)",
            [budget.dataset, budget.epsilon, budget.delta, budget.composition, budget.per_release_epsilon, note,
             budget.window_days],
        )

    def _budget(self, con, dataset: str) -> Budget | None:
        row = con.execute(
            "SELECT epsilon, delta, composition, per_release_epsilon, window_days FROM budgets WHERE dataset = ? "
            "ORDER BY seq DESC LIMIT 1", [dataset]).fetchone()
        if row is None:
            return None
        return Budget(dataset, *row)

    def _budget_or_default(self, con, dataset: str, *, persist: bool = True) -> Budget:
        """The dataset's budget; the ledger's default is written on first use when ``persist``."""
        budget = self._budget(con, dataset)
        if budget is not None:
            return budget
        if self.default_budget_epsilon is None or self.default_budget_delta is None:
            raise LedgerError(
                f"dataset {dataset!r} has no privacy budget; set one with "
                f"`synth-pipeline ledger set-budget {dataset} --epsilon E --delta D`"
            )
        budget = Budget(dataset, self.default_budget_epsilon, self.default_budget_delta)
        if persist:
            self._insert_budget(con, budget, "default budget, set on first use")
        return budget

    def budget(self, dataset: str) -> Budget | None:
        with self._transaction() as con:
            return self._budget(con, dataset)

    # -- spend -------------------------------------------------------------------
    def _active(self, con, dataset: str, window_days: float | None = None) -> list[dict]:
        """Events that count: reserved or committed (within the policy window, if any)."""
        window = "" if window_days is None else " AND created_at >= now()::TIMESTAMP - to_seconds(CAST(? AS DOUBLE))"
        args = [dataset, list(ACTIVE)] + ([] if window_days is None else [window_days * 86400.0])
        rows = con.execute(
            f"SELECT mechanism, params, epsilon, delta FROM ({_CURRENT}) WHERE dataset = ? AND status IN ?{window}",
            args,
        ).fetchall()
        return [{"mechanism": m, "params": json.loads(p), "epsilon": e, "delta": d} for m, p, e, d in rows]

    def spend(self, dataset: str) -> Spend:
        with self._transaction() as con:
            budget = self._budget_or_default(con, dataset, persist=False)
            spend = compose_spend(dataset, budget, self._active(con, dataset, budget.window_days))
            if budget.window_days is None:
                return spend
            lifetime = self._active(con, dataset)
            return replace(spend, lifetime_events=len(lifetime),
                           lifetime_basic_epsilon=sum(a["epsilon"] for a in lifetime))

    def _refusal_for(self, con, budget: Budget, mechanism: str, params: dict, epsilon: float,
                     delta: float) -> str | None:
        """The refusal message for adding this spend to the budget's active events, or None."""
        active = self._active(con, budget.dataset, budget.window_days)
        new = {"mechanism": mechanism, "params": params, "epsilon": epsilon, "delta": delta}
        return refusal(budget, compose_spend(budget.dataset, budget, active),
                             compose_spend(budget.dataset, budget, active + [new]), epsilon, delta)

    def check(self, *, dataset: str, mechanism: str, params: dict, epsilon: float, delta: float) -> str | None:
        """Would this spend fit? Returns the refusal message, or None when it fits. Writes nothing."""
        with self._transaction() as con:
            budget = self._budget_or_default(con, dataset, persist=False)
            return self._refusal_for(con, budget, mechanism, params, epsilon, delta)

    def reserve(self, *, dataset: str, run_key: str, mechanism: str, params: dict, epsilon: float,
                delta: float, partition_key: str | None = None,
                accountant: str = "rdp") -> Reservation:
        """Reserve a planned spend before any DP computation, or raise BudgetExceededError.

        The same run key never charges twice: a second call returns the live reservation.
        """
        dp_event_for(mechanism, params)  # unknown mechanisms fail before anything is written
        with self._transaction() as con:
            existing = con.execute(
                f"SELECT event_id, epsilon, delta, status FROM ({_CURRENT}) "
                "WHERE dataset = ? AND run_key = ? AND status IN ?", [dataset, run_key, list(ACTIVE)],
            ).fetchone()
            if existing is not None:
                same = con.execute("SELECT mechanism, params FROM charges WHERE event_id = ?", [existing[0]]).fetchone()
                if (same[0], json.loads(same[1])) != (mechanism, params) or existing[1] != float(epsilon):
                    raise LedgerError(
                        f"run key {run_key!r} already holds a reservation with other parameters; "
                        "use a new run key for a new plan")
                return Reservation(existing[0], dataset, run_key, existing[1], existing[2], existing[3], reused=True)
            budget = self._budget_or_default(con, dataset)
            refusal = self._refusal_for(con, budget, mechanism, params, epsilon, delta)
            if refusal:
                raise BudgetExceededError(refusal)
            event_id = uuid.uuid4().hex
            con.execute(
                "INSERT INTO charges VALUES (?, nextval('ledger_seq'), ?, ?, ?, ?, ?, ?, ?, ?, now())",
                [event_id, dataset, run_key, partition_key, mechanism, json.dumps(params, sort_keys=True),
                 float(epsilon), float(delta), accountant],
            )
            self._transition(con, event_id, "reserved", "")
        log.info("ledger: reserved ε=%.4g δ=%.3g for %s (run %s)", epsilon, delta, dataset, run_key)
        return Reservation(event_id, dataset, run_key, float(epsilon), float(delta), "reserved")

    @staticmethod
    def _transition(con, event_id: str, status: str, note: str) -> None:
        con.execute("INSERT INTO transitions VALUES (nextval('ledger_seq'), ?, ?, now(), ?)",
                    [event_id, status, note])

    def _move(self, event_id: str, status: str, note: str, allowed_from: tuple[str, ...]) -> None:
        with self._transaction() as con:
            row = con.execute(f"SELECT status FROM ({_CURRENT}) WHERE event_id = ?", [event_id]).fetchone()
            if row is None:
                raise LedgerError(f"no ledger event {event_id}")
            if row[0] == status:
                return
            if row[0] not in allowed_from:
                raise LedgerError(f"ledger event {event_id} is {row[0]}; cannot mark it {status}")
            self._transition(con, event_id, status, note)

    def commit(self, event_id: str, note: str = "") -> None:
        """DP output exists: the reservation is spent for good (even if the run fails later)."""
        self._move(event_id, "committed", note, ("reserved",))

    def refund(self, event_id: str, note: str = "") -> None:
        """Give a reservation back: only for runs that failed before any DP output existed."""
        self._move(event_id, REFUNDED, note, ("reserved",))

    # -- reading -----------------------------------------------------------------
    def history(self, dataset: str | None = None) -> list[dict]:
        with self._transaction() as con:
            query = f"SELECT * FROM ({_CURRENT})" + (" WHERE dataset = ?" if dataset else "") + " ORDER BY created_at"
            cur = con.execute(query, [dataset] if dataset else [])
            names = [d[0] for d in cur.description]
            rows = [dict(zip(names, r)) for r in cur.fetchall()]
        for row in rows:
            row["params"] = json.loads(row["params"])
            if row["status"] == "released":  # the name of a refund in ledgers written before 2026-12
                row["status"] = REFUNDED
            for key in ("created_at", "status_at"):
                row[key] = row[key].isoformat() if row[key] is not None else None
        return rows

    def datasets(self) -> list[str]:
        with self._transaction() as con:
            rows = con.execute(
                "SELECT DISTINCT dataset FROM (SELECT dataset FROM budgets UNION SELECT dataset FROM charges) ORDER BY 1"
            ).fetchall()
        return [r[0] for r in rows]


def budget_as_dict(budget: Budget) -> dict:
    return asdict(budget)
