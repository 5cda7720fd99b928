"""Governance records, next to the privacy ledger and in the same store: what happened to
each release (staged, blocked, approved, rejected, published, exported, revoked) and every
file the retention schedule deleted.

Reads no data. Append-only, like the ledger: nothing here updates or deletes a row, and the
retention schedule never deletes these tables. A check and the record it allows are one
transaction (``append_if``), so two approvers acting at once cannot both be "the second".
Times are UTC ISO strings written by Python, the same on DuckDB and PostgreSQL.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Callable

from synth_pipeline.privacy.ledger_stores import LedgerError

_SCHEMA = """
CREATE SEQUENCE IF NOT EXISTS ledger_seq;
CREATE TABLE IF NOT EXISTS release_events (
    seq BIGINT, run_id VARCHAR, release_id VARCHAR, dataset VARCHAR, partition_key VARCHAR, event VARCHAR,
    actor VARCHAR, note VARCHAR, detail VARCHAR, recorded_at VARCHAR);
CREATE TABLE IF NOT EXISTS deletions (
    seq BIGINT, kind VARCHAR, path VARCHAR, release_id VARCHAR, dataset VARCHAR, policy_days {double},
    age_days {double}, deleted_at VARCHAR);
"""

EVENTS = ("blocked", "staged", "approved", "rejected", "published", "exported", "revoked", "deleted")


class GovernanceError(LedgerError):
    """A governance action that is not allowed (the message says why); nothing was recorded or changed."""


def utc_now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


@dataclass(frozen=True)
class ReleaseState:
    """One run's release, folded from its events (oldest first)."""

    run_id: str
    release_id: str
    dataset: str
    partition_key: str
    events: tuple[dict, ...] = field(default_factory=tuple)

    def last(self, event: str) -> dict | None:
        return next((e for e in reversed(self.events) if e["event"] == event), None)

    @property
    def staged(self) -> dict | None:
        return self.last("staged")

    @property
    def approvals(self) -> list[dict]:
        return [e for e in self.events if e["event"] == "approved"]

    @property
    def status(self) -> str:
        """blocked, awaiting approval, rejected, published, revoked or deleted (the latest that applies)."""
        kinds = {e["event"] for e in self.events}
        for event, status in (("revoked", "revoked"), ("deleted", "deleted"), ("published", "published"),
                              ("rejected", "rejected"), ("staged", "awaiting approval"), ("blocked", "blocked")):
            if event in kinds:
                return status
        return "unknown"

    @property
    def expires_at(self) -> str | None:
        published = self.last("published")
        return published["detail"].get("expires_at") if published else None

    def as_dict(self) -> dict:
        staged = self.staged or {}
        return {"run_id": self.run_id, "release_id": self.release_id, "dataset": self.dataset,
                "partition": self.partition_key, "status": self.status,
                "epsilon": (staged.get("detail") or {}).get("epsilon"),
                "approvals": [{"by": a["actor"], "at": a["at"], "note": a["note"]} for a in self.approvals],
                "expires_at": self.expires_at,
                "events": [{k: e[k] for k in ("event", "actor", "at", "note")} for e in self.events]}


class GovernanceRecords:
    """The release events and deletions, in the ledger's store (its DuckDB file or database)."""

    def __init__(self, store):
        self.store = store
        self.store.run(self._create, lock_key="governance-schema")

    def _create(self, con) -> None:
        for statement in _SCHEMA.format(double=self.store.double).split(";"):
            if statement.strip():
                con.execute(statement)

    # -- release events ----------------------------------------------------------------------
    @staticmethod
    def _events(con, run_id: str) -> list[dict]:
        cur = con.execute("SELECT run_id, release_id, dataset, partition_key, event, actor, note, detail, recorded_at AS at "
                          "FROM release_events WHERE run_id = ? ORDER BY seq", [run_id])
        names = [d[0] for d in cur.description]
        rows = [dict(zip(names, r)) for r in cur.fetchall()]
        for row in rows:
            row["detail"] = json.loads(row["detail"] or "{}")
        return rows

    def _state(self, con, run_id: str) -> ReleaseState | None:
        events = self._events(con, run_id)
        if not events:
            return None
        first = events[0]
        return ReleaseState(run_id=run_id, release_id=first["release_id"], dataset=first["dataset"],
                            partition_key=first["partition_key"], events=tuple(events))

    def state(self, run_id: str) -> ReleaseState | None:
        return self.store.run(lambda con: self._state(con, run_id))

    def append_if(self, *, run_id: str, event: str, actor: str = "", note: str = "", detail: dict | None = None,
                  check: Callable[[ReleaseState | None], None] | None = None, release_id: str = "",
                  dataset: str = "", partition_key: str = "") -> ReleaseState:
        """Record ``event`` for ``run_id`` if ``check(state)`` does not raise, in one transaction;
        the run's identity (release id, dataset, partition) comes from its first event when it has one."""
        if event not in EVENTS:
            raise ValueError(f"unknown release event {event!r}")

        def work(con) -> ReleaseState:
            state = self._state(con, run_id)
            if check is not None:
                check(state)
            ident = (state.release_id, state.dataset, state.partition_key) if state else (release_id, dataset,
                                                                                           partition_key)
            con.execute("INSERT INTO release_events (seq, run_id, release_id, dataset, partition_key, event, actor, "
                        "note, detail, recorded_at) VALUES (nextval('ledger_seq'), ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                        [run_id, *ident, event, actor, note, json.dumps(detail or {}, sort_keys=True, default=str),
                         utc_now()])
            return self._state(con, run_id)
        return self.store.run(work, lock_key="release:" + run_id)

    def find(self, ref: str) -> str:
        """The full run id for ``ref``: a run id, or a prefix of at least 8 characters (the run
        folder's name). Unknown or ambiguous references are refused, saying which."""
        ref = (ref or "").strip()
        if len(ref) < 8:
            raise GovernanceError(f"give the run id, or at least its first 8 characters (the run folder's name); "
                                  f"got {ref!r}")

        def runs(where: str, arg: str) -> list[str]:
            return [r[0] for r in self.store.run(lambda con: con.execute(
                f"SELECT DISTINCT run_id FROM release_events WHERE {where} ORDER BY 1", [arg]).fetchall())]

        ids = runs("run_id LIKE ?", ref + "%")
        if ref in ids:
            return ref
        if not ids and len(ref) == 8:
            # The run folder's name: the run that trained the model, under which a re-executed run
            # records its release; of several runs there, the one that staged it.
            ids = runs("release_id LIKE ?", "%/" + ref)
            staged = [i for i in ids if self.state(i).staged is not None]
            ids = staged if len(staged) == 1 else ids
        if not ids:
            raise GovernanceError(f"no release is recorded for run {ref!r}: its gates never ran to a decision, or "
                                  "it ran against another ledger. `synth-pipeline releases list` shows the runs")
        if len(ids) > 1:
            raise GovernanceError(f"run {ref!r} matches {len(ids)} runs ({', '.join(ids)}); give more of the id")
        return ids[0]

    def states_of_release(self, release_id: str) -> list[ReleaseState]:
        """Every run recorded for a run folder (``<dataset>/<partition>/<run[:8]>``), oldest first:
        the run that trained the model, then any run that re-materialized its release."""
        rows = self.store.run(lambda con: con.execute(
            "SELECT run_id FROM release_events WHERE release_id = ? GROUP BY run_id ORDER BY min(seq)",
            [release_id]).fetchall())
        return [self.state(r[0]) for r in rows]

    def by_release(self, release_id: str) -> ReleaseState | None:
        """The run that staged the release of a run folder, if any."""
        return next((s for s in self.states_of_release(release_id) if s.staged is not None), None)

    def all_states(self, dataset: str | None = None) -> list[ReleaseState]:
        ids = [r[0] for r in self.store.run(lambda con: con.execute(
            "SELECT run_id FROM release_events" + (" WHERE dataset = ?" if dataset else "") +
            " GROUP BY run_id ORDER BY min(seq)", [dataset] if dataset else []).fetchall())]
        return [self.state(run_id) for run_id in ids]

    # -- deletions --------------------------------------------------------------------------------
    def record_deletion(self, *, kind: str, path: str, release_id: str, dataset: str, policy_days: float,
                        age_days: float) -> None:
        self.store.run(lambda con: con.execute(
            "INSERT INTO deletions (seq, kind, path, release_id, dataset, policy_days, age_days, deleted_at) "
            "VALUES (nextval('ledger_seq'), ?, ?, ?, ?, ?, ?, ?)",
            [kind, path, release_id, dataset, float(policy_days), float(age_days), utc_now()]), lock_key="deletions")

    def deletions(self) -> list[dict]:
        def work(con):
            cur = con.execute("SELECT kind, path, release_id, dataset, policy_days, age_days, deleted_at "
                              "FROM deletions ORDER BY seq")
            names = [d[0] for d in cur.description]
            return [dict(zip(names, r)) for r in cur.fetchall()]
        return self.store.run(work)
