"""The privacy ledger: per-dataset budgets and an append-only record of every DP event.

Reads no data. Its tables live in a store (``ledger_stores``): an embedded DuckDB file, the
default, or a PostgreSQL database for runs spread over several processes or machines (pass
a ``postgresql://`` URL instead of a path). Both hold the same tables and run the same
queries; each operation is one short transaction, serialised by the store (a file lock, or
SERIALIZABLE transactions). A run reserves its planned spend before any DP computation (a
refused reservation writes nothing); a reservation counts as spent until it is either
committed (DP output exists) or refunded (it never produced DP output).
"""

from __future__ import annotations

import json
import logging
import uuid
from dataclasses import asdict, dataclass, replace
from pathlib import Path

from synth_pipeline.privacy.composition import (  # noqa: F401 (Budget, Spend, COMPOSITIONS re-exported)
    COMPOSITIONS, Budget, Spend, compose_spend, dp_event_for, refusal)
from synth_pipeline.privacy.ledger_stores import (  # noqa: F401 (errors re-exported)
    LedgerBusyError, LedgerError, LedgerUnavailableError, is_database_url, open_store)
from synth_pipeline.privacy.release_types import ReleaseTypes, load_budget_policy, type_refusal

log = logging.getLogger(__name__)

ACTIVE = ("reserved", "committed")  # both count against the budget
FIRST_USE_NOTE = "default budget, set on first use"
REFUNDED = "refunded"  # a reservation given back: it never produced DP output
SCHEMA_VERSION = 2  # 1: the tables before ledger_meta existed (read and upgraded in place)

_ACTIVE_SQL = "(" + ", ".join(f"'{status}'" for status in ACTIVE) + ")"  # ACTIVE as an SQL list

_SCHEMA = """
CREATE SEQUENCE IF NOT EXISTS ledger_seq;
CREATE TABLE IF NOT EXISTS ledger_meta (key VARCHAR PRIMARY KEY, value VARCHAR);
CREATE TABLE IF NOT EXISTS budgets (
    seq BIGINT, dataset VARCHAR, epsilon {double}, delta {double}, composition VARCHAR,
    per_release_epsilon {double}, set_at TIMESTAMP, note VARCHAR);
ALTER TABLE budgets ADD COLUMN IF NOT EXISTS window_days {double};
ALTER TABLE budgets ADD COLUMN IF NOT EXISTS release_types VARCHAR;
CREATE TABLE IF NOT EXISTS charges (
    event_id VARCHAR PRIMARY KEY, seq BIGINT, dataset VARCHAR, run_key VARCHAR, partition_key VARCHAR,
    mechanism VARCHAR, params VARCHAR, epsilon {double}, delta {double}, accountant VARCHAR,
    created_at TIMESTAMP);
CREATE TABLE IF NOT EXISTS transitions (
    seq BIGINT, event_id VARCHAR, status VARCHAR, changed_at TIMESTAMP, note VARCHAR);
"""

# Every event with its latest status (the transition with the highest sequence number).
_CURRENT = """
(SELECT c.event_id, c.dataset, c.run_key, c.partition_key, c.mechanism, c.params, c.epsilon, c.delta,
        c.accountant, c.created_at, t.status, t.changed_at AS status_at
 FROM charges c
 JOIN (SELECT event_id, status, changed_at,
              row_number() OVER (PARTITION BY event_id ORDER BY seq DESC) AS newest
       FROM transitions) t
   ON t.event_id = c.event_id AND t.newest = 1) AS current_events
"""


class BudgetExceededError(LedgerError):
    """A reservation that would exceed the budget; nothing was charged."""


@dataclass(frozen=True)
class Reservation:
    event_id: str
    dataset: str
    run_key: str
    epsilon: float
    delta: float
    status: str
    reused: bool = False  # the same run key had already reserved: nothing new was charged


class PrivacyLedger:
    """Budgets and DP events for every dataset, in a DuckDB file of its own or a PostgreSQL database."""

    def __init__(self, location: str | Path, *, default_budget_epsilon: float | None = None,
                 default_budget_delta: float | None = None, lock_timeout_s: float = 60.0):
        self.store = open_store(location, lock_timeout_s=lock_timeout_s)
        self.default_budget_epsilon = default_budget_epsilon
        self.default_budget_delta = default_budget_delta
        self.lock_timeout_s = lock_timeout_s
        self.store.run(self._create_or_check_schema, lock_key="schema")

    @property
    def location(self) -> str:
        """The DuckDB file, or the database URL without its password."""
        return self.store.location

    @property
    def path(self) -> Path | None:
        """The DuckDB file; None on PostgreSQL."""
        return getattr(self.store, "path", None)

    def _create_or_check_schema(self, con) -> None:
        tables = {r[0] for r in con.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema() AND table_name IN "
            "('ledger_meta', 'budgets', 'charges', 'transitions')").fetchall()}
        if "ledger_meta" in tables:
            row = con.execute("SELECT value FROM ledger_meta WHERE key = 'schema_version'").fetchone()
            found = int(row[0]) if row else SCHEMA_VERSION
            if found > SCHEMA_VERSION:
                raise LedgerError(
                    f"the ledger {self.location} was written by a newer synth_pipeline (ledger schema "
                    f"{found}, this version reads up to {SCHEMA_VERSION}); upgrade synth_pipeline before "
                    "using it. Nothing was charged")
        elif tables and not {"budgets", "charges", "transitions"} <= tables:
            raise LedgerError(
                f"the ledger {self.location} holds only some of the ledger's tables ({', '.join(sorted(tables))}); "
                "it is not a ledger this version can read or repair. Point --ledger at the right file or "
                "database. Nothing was charged")
        for statement in _SCHEMA.format(double=self.store.double).split(";"):
            if statement.strip():
                con.execute(statement)
        missing = _missing_columns(con)
        if missing:
            raise LedgerError(
                f"the ledger {self.location} has tables without the columns this version needs "
                f"({', '.join(missing)}); it was not written by synth_pipeline. Nothing was charged")
        if con.execute("SELECT count(*) FROM ledger_meta WHERE key = 'schema_version'").fetchone()[0] == 0:
            con.execute("INSERT INTO ledger_meta VALUES ('schema_version', ?)", [str(SCHEMA_VERSION)])

    # -- budgets ---------------------------------------------------------------
    def set_budget(self, dataset: str, *, epsilon: float, delta: float, composition: str = "tight",
                   per_release_epsilon: float | None = None, window_days: float | None = None,
                   release_types: ReleaseTypes | None = None, note: str = "") -> Budget:
        """Record a new budget for ``dataset`` (the old ones stay in the history). Without
        ``release_types`` the dataset keeps the types it had."""
        def work(con) -> Budget:
            types = release_types
            if types is None:
                held = self._budget(con, dataset)
                types = held.release_types if held else ReleaseTypes()
            budget = Budget(dataset, float(epsilon), float(delta), composition, per_release_epsilon, window_days,
                            types)
            self._insert_budget(con, budget, note)
            return budget
        return self.store.run(work, lock_key=dataset)

    def apply_budget_policy(self, path: str | Path, *, over_earlier: bool = True) -> list[str]:
        """Record the budgets of a budget policy file (``privacy.release_types``) for each dataset
        whose entry changed since this file's last application; a budget set by hand afterwards
        stands until the file changes. ``over_earlier`` False (the automatic application of
        the code location) never replaces, on the file's first application, a budget the
        ledger held before (set by hand: it may be stricter); it says so in a warning, and
        ``ledger apply-budgets`` applies the file on purpose. Returns the datasets recorded."""
        entries, digest = load_budget_policy(path)
        changed = []
        for entry in entries:
            budget = Budget(**entry)
            key = f"budget_policy:{budget.dataset}"

            def work(con, budget=budget, key=key) -> bool:
                row = con.execute("SELECT value FROM ledger_meta WHERE key = ?", [key]).fetchone()
                stamp = json.dumps({"sha256": digest, "entry": repr(budget)})
                if row is not None and json.loads(row[0])["entry"] == repr(budget):
                    return False
                if row is None and not over_earlier:
                    held = con.execute("SELECT note FROM budgets WHERE dataset = ? ORDER BY seq DESC LIMIT 1",
                                       [budget.dataset]).fetchone()
                    if held is not None and held[0] != FIRST_USE_NOTE:
                        log.warning("ledger: the budget policy %s was not applied to %r, which holds a budget set "
                                    "before it; apply it on purpose with `synth-pipeline ledger apply-budgets %s`",
                                    Path(path).name, budget.dataset, path)
                        return False
                self._insert_budget(con, budget, f"from the budget policy {Path(path).name} (sha256 {digest[:12]})")
                con.execute("DELETE FROM ledger_meta WHERE key = ?", [key])  # the pointer, not the history
                con.execute("INSERT INTO ledger_meta VALUES (?, ?)", [key, stamp])
                return True
            if self.store.run(work, lock_key=budget.dataset):
                changed.append(budget.dataset)
        return changed

    @staticmethod
    def _insert_budget(con, budget: Budget, note: str) -> None:
        con.execute(
            "INSERT INTO budgets (seq, dataset, epsilon, delta, composition, per_release_epsilon, set_at, note, "
            "window_days, release_types) VALUES (nextval('ledger_seq'), ?, ?, ?, ?, ?, now(), ?, ?, ?)",
            [budget.dataset, budget.epsilon, budget.delta, budget.composition, budget.per_release_epsilon, note,
             budget.window_days, budget.release_types.to_json()],
        )

    def _budget(self, con, dataset: str) -> Budget | None:
        row = con.execute(
            "SELECT epsilon, delta, composition, per_release_epsilon, window_days, release_types FROM budgets "
            "WHERE dataset = ? ORDER BY seq DESC LIMIT 1", [dataset]).fetchone()
        if row is None:
            return None
        return Budget(dataset, *row[:5], ReleaseTypes.from_json(row[5]))

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
            self._insert_budget(con, budget, FIRST_USE_NOTE)
        return budget

    def budget(self, dataset: str) -> Budget | None:
        return self.store.run(lambda con: self._budget(con, dataset))

    # -- spend -------------------------------------------------------------------
    def _active(self, con, dataset: str, window_days: float | None = None) -> list[dict]:
        """Events that count: reserved or committed (within the policy window, if any)."""
        window = "" if window_days is None else f" AND created_at >= {self.store.window_start('?')}"
        args = [dataset] + ([] if window_days is None else [window_days * 86400.0])
        rows = con.execute(
            f"SELECT mechanism, params, epsilon, delta FROM {_CURRENT} "
            f"WHERE dataset = ? AND status IN {_ACTIVE_SQL}{window}", args,
        ).fetchall()
        return [{"mechanism": m, "params": json.loads(p), "epsilon": e, "delta": d} for m, p, e, d in rows]

    def spend(self, dataset: str) -> Spend:
        def work(con) -> Spend:
            budget = self._budget_or_default(con, dataset, persist=False)
            spend = compose_spend(dataset, budget, self._active(con, dataset, budget.window_days))
            if budget.window_days is None:
                return spend
            lifetime = self._active(con, dataset)
            return replace(spend, lifetime_events=len(lifetime),
                           lifetime_basic_epsilon=sum(a["epsilon"] for a in lifetime))
        return self.store.run(work)

    def _refusal_for(self, con, budget: Budget, mechanism: str, params: dict, epsilon: float,
                     delta: float) -> str | None:
        """The refusal message for adding this spend to the budget's active events, or None."""
        mixed = _unit_refusal(budget.dataset, params, self._active(con, budget.dataset))
        if mixed:
            return mixed
        active = self._active(con, budget.dataset, budget.window_days)
        new = {"mechanism": mechanism, "params": params, "epsilon": epsilon, "delta": delta}
        return refusal(budget, compose_spend(budget.dataset, budget, active),
                       compose_spend(budget.dataset, budget, active + [new]), epsilon, delta) or \
            self._type_refusal(con, budget, new)

    def _type_refusal(self, con, budget: Budget, new: dict) -> str | None:
        """The release type's caps: its per-release cap, and what its releases spend together
        inside its window (composed as the budget composes). ``new['params']`` names the type."""
        kind, why = type_refusal(budget.release_types, new["params"].get("release_type"), dataset=budget.dataset)
        if why or kind is None:
            return why
        ask = f"the run asks for ε={new['epsilon']:.4g} as a {kind.name!r} release"
        if kind.per_release_epsilon is not None and new["epsilon"] > kind.per_release_epsilon:
            return f"refused: over the {kind.name!r} per-release cap ε={kind.per_release_epsilon:.4g}; {ask}. Nothing was charged"
        if kind.window_epsilon is None and kind.window_releases is None:
            return None
        same = [a for a in self._active(con, budget.dataset, kind.window_days)
                if a["params"].get("release_type") == kind.name]
        window = f"the last {kind.window_days:g} days" if kind.window_days else "the dataset's life"
        if kind.window_releases is not None and len(same) >= kind.window_releases:
            return (f"refused: {kind.name!r} allows {kind.window_releases} release(s) over {window}, and "
                    f"{len(same)} counted already; {ask}. Nothing was charged")
        if kind.window_epsilon is None:
            return None
        before = compose_spend(budget.dataset, budget, same).spent_epsilon
        after = compose_spend(budget.dataset, budget, same + [new]).spent_epsilon
        if after > kind.window_epsilon:
            return (f"refused: {kind.name!r} releases may spend ε={kind.window_epsilon:.4g} over {window}; they spent "
                    f"ε={before:.4g} ({len(same)} release(s)) and {ask}, which would make ε={after:.4g}. "
                    "Nothing was charged")
        return None

    def check(self, *, dataset: str, mechanism: str, params: dict, epsilon: float, delta: float) -> str | None:
        """Would this spend fit? Returns the refusal message, or None when it fits. Writes nothing."""
        def work(con):
            budget = self._budget_or_default(con, dataset, persist=False)
            return self._refusal_for(con, budget, mechanism, params, epsilon, delta)
        return self.store.run(work)

    def reserve(self, *, dataset: str, run_key: str, mechanism: str, params: dict, epsilon: float,
                delta: float, partition_key: str | None = None,
                accountant: str = "rdp") -> Reservation:
        """Reserve a planned spend before any DP computation, or raise BudgetExceededError.

        The same run key never charges twice: a second call returns the live reservation.
        """
        dp_event_for(mechanism, params)  # unknown mechanisms fail before anything is written

        def work(con) -> Reservation:
            nonlocal params
            held = self._budget(con, dataset)
            if held is not None and held.release_types.default and not params.get("release_type"):
                params = {**params, "release_type": held.release_types.default}  # recorded: its window counts it
            existing = con.execute(
                f"SELECT event_id, epsilon, delta, status FROM {_CURRENT} "
                f"WHERE dataset = ? AND run_key = ? AND status IN {_ACTIVE_SQL}", [dataset, run_key],
            ).fetchone()
            if existing is not None:
                same = con.execute("SELECT mechanism, params FROM charges WHERE event_id = ?", [existing[0]]).fetchone()
                if (same[0], json.loads(same[1])) != (mechanism, params) or existing[1] != float(epsilon):
                    raise LedgerError(
                        f"run key {run_key!r} already holds a reservation with other parameters; "
                        "use a new run key for a new plan")
                return Reservation(existing[0], dataset, run_key, existing[1], existing[2], existing[3], reused=True)
            budget = self._budget_or_default(con, dataset)
            why = self._refusal_for(con, budget, mechanism, params, epsilon, delta)
            if why:
                raise BudgetExceededError(why)
            event_id = uuid.uuid4().hex
            con.execute(
                "INSERT INTO charges (event_id, seq, dataset, run_key, partition_key, mechanism, params, epsilon, "
                "delta, accountant, created_at) VALUES (?, nextval('ledger_seq'), ?, ?, ?, ?, ?, ?, ?, ?, now())",
                [event_id, dataset, run_key, partition_key, mechanism, json.dumps(params, sort_keys=True),
                 float(epsilon), float(delta), accountant],
            )
            self._transition(con, event_id, "reserved", "")
            return Reservation(event_id, dataset, run_key, float(epsilon), float(delta), "reserved")

        reservation = self.store.run(work, lock_key=dataset)
        if not reservation.reused:
            log.info("ledger: reserved ε=%.4g δ=%.3g for %s (run %s)", epsilon, delta, dataset, run_key)
        return reservation

    @staticmethod
    def _transition(con, event_id: str, status: str, note: str) -> None:
        con.execute("INSERT INTO transitions (seq, event_id, status, changed_at, note) "
                    "VALUES (nextval('ledger_seq'), ?, ?, now(), ?)", [event_id, status, note])

    def _move(self, event_id: str, status: str, note: str, allowed_from: tuple[str, ...]) -> None:
        def work(con) -> None:
            row = con.execute(f"SELECT status FROM {_CURRENT} WHERE event_id = ?", [event_id]).fetchone()
            if row is None:
                raise LedgerError(f"no ledger event {event_id}")
            if row[0] == status:
                return
            if row[0] not in allowed_from:
                raise LedgerError(f"ledger event {event_id} is {row[0]}; cannot mark it {status}")
            self._transition(con, event_id, status, note)
        self.store.run(work, lock_key="event:" + event_id)

    def commit(self, event_id: str, note: str = "") -> None:
        """DP output exists: the reservation is spent for good (even if the run fails later)."""
        self._move(event_id, "committed", note, ("reserved",))

    def refund(self, event_id: str, note: str = "") -> None:
        """Give a reservation back: only for runs that failed before any DP output existed."""
        self._move(event_id, REFUNDED, note, ("reserved",))

    # -- reading -----------------------------------------------------------------
    def history(self, dataset: str | None = None) -> list[dict]:
        def work(con) -> list[dict]:
            query = f"SELECT * FROM {_CURRENT}" + (" WHERE dataset = ?" if dataset else "") + " ORDER BY created_at, event_id"
            cur = con.execute(query, [dataset] if dataset else [])
            names = [d[0] for d in cur.description]
            return [dict(zip(names, r)) for r in cur.fetchall()]
        rows = self.store.run(work)
        for row in rows:
            row["params"] = json.loads(row["params"])
            if row["status"] == "released":  # the name of a refund in ledgers written before 2026-12
                row["status"] = REFUNDED
            for key in ("created_at", "status_at"):
                row[key] = row[key].isoformat() if row[key] is not None else None
        return rows

    def datasets(self) -> list[str]:
        rows = self.store.run(lambda con: con.execute(
            "SELECT DISTINCT dataset FROM (SELECT dataset FROM budgets UNION SELECT dataset FROM charges) AS d "
            "ORDER BY 1").fetchall())
        return [r[0] for r in rows]


_REQUIRED_COLUMNS = {
    "budgets": ("seq", "dataset", "epsilon", "delta", "composition", "per_release_epsilon", "set_at", "window_days"),
    "charges": ("event_id", "seq", "dataset", "run_key", "partition_key", "mechanism", "params", "epsilon", "delta",
                "accountant", "created_at"),
    "transitions": ("seq", "event_id", "status", "changed_at", "note"),
}


def _missing_columns(con) -> list[str]:
    rows = con.execute("SELECT table_name, column_name FROM information_schema.columns WHERE table_schema = "
                       "current_schema() AND table_name IN ('budgets', 'charges', 'transitions')").fetchall()
    have = {(t, c) for t, c in rows}
    return [f"{t}.{c}" for t, cols in _REQUIRED_COLUMNS.items() for c in cols if (t, c) not in have]


def budget_as_dict(budget: Budget) -> dict:
    return asdict(budget)


def _unit_name(params: dict) -> str:
    unit = params.get("privacy_unit")
    return "one row" if unit is None else f"one person by {unit!r}"


def _unit_refusal(dataset: str, params: dict, events: list[dict]) -> str | None:
    """Spends for different privacy units do not compose (an ε per row bounds a person of k
    rows only at about k·ε): a dataset's ledger keeps one unit for its whole history."""
    held = {_unit_name(e["params"]) for e in events}
    wanted = _unit_name(params)
    if held and held != {wanted}:
        return (f"the ledger of {dataset!r} holds spends for the privacy unit {', '.join(sorted(held))}; this run is "
                f"for {wanted}, and an ε per row and an ε per person do not add up. Keep the schema's privacy_unit "
                "as it was, or record the new unit under a new dataset name (its earlier releases still count "
                "against each person, outside this ledger). Nothing was charged")
    return None

