"""Where the privacy ledger keeps its tables: an embedded DuckDB file or a PostgreSQL database.

Reads no data. A store runs one short transaction at a time for the ledger and gives it
the few pieces of SQL that differ between the two. Concurrency is each store's own:

- ``DuckDbStore``: one writing process per file (DuckDB's rule), an exclusive ``fcntl`` lock
  on a sidecar file, and a thread lock per file inside a process. POSIX only, one machine:
  ``fcntl`` locks are not reliable on network file systems.
- ``PostgresStore``: the database's own. Every transaction is SERIALIZABLE, so two runs can
  never both fit into the last of a budget whatever the interleaving; a transaction the server
  aborts as a serialization failure or deadlock is retried from the start with a jittered
  back-off. Writers of one dataset also queue on an advisory lock taken before their
  transaction begins, which turns would-be serialization failures into a short wait. A crashed client's open
  transaction is rolled back by the server: nothing half-written survives.
"""

from __future__ import annotations

import fcntl
import random
import threading
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, TypeVar

import duckdb

T = TypeVar("T")

_LOCKS: dict[str, threading.Lock] = {}
_LOCKS_GUARD = threading.Lock()


class LedgerError(RuntimeError):
    """Base class of ledger errors."""


class LedgerBusyError(LedgerError):
    """The ledger stayed locked (or kept conflicting) past the retry window; nothing was charged."""


class LedgerUnavailableError(LedgerError):
    """The ledger's database could not be reached or refused the login; nothing was charged."""


def is_database_url(location: str | Path) -> bool:
    return str(location).startswith(("postgresql://", "postgres://"))


def open_store(location: str | Path, *, lock_timeout_s: float) -> "DuckDbStore | PostgresStore":
    """A PostgreSQL URL (``postgresql://user@host:port/db``) or the path of a DuckDB file."""
    if is_database_url(location):
        return PostgresStore(str(location), lock_timeout_s=lock_timeout_s)
    return DuckDbStore(Path(location), lock_timeout_s=lock_timeout_s)


class _Sql:
    """A connection as the ledger's queries see it: ``?`` placeholders on both stores."""

    def __init__(self, con, placeholder: str):
        self._con, self._placeholder = con, placeholder

    def execute(self, sql: str, params=()):
        if self._placeholder == "?":  # DuckDB: on the connection itself (its cursor() is another connection)
            return self._con.execute(sql, list(params))
        cur = self._con.cursor()  # psycopg: a cursor per statement, inside the connection's transaction
        cur.execute(sql.replace("?", self._placeholder), list(params) or None)
        return cur


class DuckDbStore:
    """The embedded default: one DuckDB file of the ledger's own."""

    kind = "duckdb"
    double = "DOUBLE"

    def __init__(self, path: Path, *, lock_timeout_s: float):
        self.path = path
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.lock_timeout_s = lock_timeout_s

    @property
    def location(self) -> str:
        return str(self.path)

    @staticmethod
    def window_start(param: str) -> str:
        return f"now()::TIMESTAMP - to_seconds(CAST({param} AS DOUBLE))"

    def run(self, work: Callable[[_Sql], T], *, lock_key: str | None = None) -> T:
        """``work`` in one transaction under the file lock; DuckDB never aborts it for a conflict."""
        with self._thread_lock(), self._file_lock():
            con = self._connect()
            try:
                con.execute("BEGIN TRANSACTION")
                result = work(_Sql(con, "?"))
                con.execute("COMMIT")
                return result
            except BaseException:
                con.execute("ROLLBACK")
                raise
            finally:
                con.close()

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
        key = str(self.path.resolve())
        with _LOCKS_GUARD:
            lock = _LOCKS.setdefault(key, threading.Lock())
        if not lock.acquire(timeout=self.lock_timeout_s):
            raise LedgerBusyError(f"privacy ledger {self.path} stayed busy in this process for "
                                  f"{self.lock_timeout_s:.0f} s; nothing was charged. Retry later")
        try:
            yield
        finally:
            lock.release()


class PostgresStore:
    """The ledger in a PostgreSQL database, for runs on several processes or machines.

    One connection per transaction (nothing is shared across a fork, and a worker that dies
    leaves no pooled connection behind). The URL's password is never shown: ``location`` is
    ``postgresql://user@host:port/db``."""

    kind = "postgresql"
    double = "DOUBLE PRECISION"
    _RETRYABLE = ("40001", "40P01")  # serialization_failure, deadlock_detected

    def __init__(self, url: str, *, lock_timeout_s: float, connect_timeout_s: float = 10.0):
        import psycopg  # imported here: the DuckDB default never needs it

        self._psycopg = psycopg
        self.url = url
        self.lock_timeout_s = lock_timeout_s
        self.connect_timeout_s = connect_timeout_s
        try:
            info = psycopg.conninfo.conninfo_to_dict(url)
        except psycopg.ProgrammingError:
            raise LedgerError("the ledger URL is not a valid PostgreSQL URL; write it as "
                              "postgresql://USER[:PASSWORD]@HOST[:PORT]/DATABASE") from None
        self.location = (f"postgresql://{info.get('user', '')}@{info.get('host', 'localhost')}:"
                         f"{info.get('port', 5432)}/{info.get('dbname', '')}")

    @staticmethod
    def window_start(param: str) -> str:
        return f"(now() AT TIME ZONE 'UTC') - make_interval(secs => CAST({param} AS DOUBLE PRECISION))"

    def _connect(self):
        psycopg = self._psycopg
        try:
            con = psycopg.connect(self.url, connect_timeout=max(1, int(self.connect_timeout_s)), autocommit=True)
        except psycopg.OperationalError as exc:
            raise LedgerUnavailableError(
                f"cannot open the PostgreSQL ledger {self.location}: {_first_line(exc, self.url)}. "
                "Check that the server runs and is reachable, and the user name, password and database "
                "in the URL; nothing was charged") from None
        con.isolation_level = psycopg.IsolationLevel.SERIALIZABLE
        return con

    def run(self, work: Callable[[_Sql], T], *, lock_key: str | None = None) -> T:
        """``work`` in one SERIALIZABLE transaction, retried from the start when the server aborts
        it for a conflict, until ``lock_timeout_s``; ``lock_key`` queues writers of one dataset.

        The queue is a session advisory lock taken before the transaction begins, so that the
        transaction's snapshot is taken after the previous writer committed (a lock taken inside
        it would come after its snapshot, and SERIALIZABLE would then abort it as a conflict).
        Closing the connection releases the lock, also when the process dies."""
        psycopg = self._psycopg
        deadline = time.monotonic() + self.lock_timeout_s
        wait = 0.005
        while True:
            con = self._connect()
            try:
                if lock_key is not None:
                    left_ms = max(1, int((deadline - time.monotonic()) * 1000))
                    con.execute(f"SET lock_timeout = {left_ms}")
                    con.execute("SELECT pg_advisory_lock(hashtextextended(%s, 0))", ["synth_pipeline.ledger:" + lock_key])
                with con.transaction():
                    sql = _Sql(con, "%s")
                    sql.execute("SET LOCAL TIME ZONE 'UTC'")
                    return work(sql)
            except psycopg.errors.UndefinedTable:
                raise LedgerError(f"the PostgreSQL ledger {self.location} has no ledger tables; "
                                  "open it once with this version to create them") from None
            except psycopg.Error as exc:
                if exc.sqlstate == "55P03":  # lock_not_available: the queue did not move in time
                    raise LedgerBusyError(
                        f"the PostgreSQL ledger {self.location} stayed busy with other runs for "
                        f"{self.lock_timeout_s:.0f} s; nothing was charged. Retry later") from None
                if exc.sqlstate not in self._RETRYABLE:
                    # A connection lost while committing may have committed: say what is known.
                    raise LedgerError(f"the PostgreSQL ledger {self.location} failed: {_first_line(exc, self.url)}. "
                                      "The operation was not confirmed: check `synth-pipeline ledger pending`; "
                                      "a retry with the same run key never charges twice") from None
                if time.monotonic() >= deadline:
                    raise LedgerBusyError(
                        f"the PostgreSQL ledger {self.location} kept conflicting with other runs for "
                        f"{self.lock_timeout_s:.0f} s; nothing was charged. Retry later") from None
                time.sleep(wait * (0.5 + random.random()))
                wait = min(wait * 2, 0.25)
            finally:
                con.close()


def _first_line(exc: Exception, url: str) -> str:
    """The driver's message, first line only and without the URL (it may hold a password)."""
    text = (str(exc).strip().splitlines() or ["unknown error"])[0]
    return text.replace(url, "<ledger URL>")
