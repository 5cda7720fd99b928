"""The ledger's contract where the two backends could differ: crashes, bad locations, old and
foreign schemas, and the CLI on either. Every test taking ``ledger_location`` runs on DuckDB
and on a real PostgreSQL server (conftest); the PostgreSQL-only ones take ``postgres_server``.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap

import pytest

from synth_pipeline.cli import main
from synth_pipeline.privacy.ledger import (BudgetExceededError, LedgerError, LedgerUnavailableError,
                                           PrivacyLedger)

GAUSS = {"mechanism": "gaussian", "params": {"noise_multiplier": 5.0}}


def _child(location: str, body: str) -> subprocess.Popen:
    """A process holding its own ledger on ``location``: it runs ``body``, prints READY and
    then waits to be killed."""
    code = textwrap.dedent(f"""
        import sys, time
        from synth_pipeline.privacy.ledger import PrivacyLedger
        ledger = PrivacyLedger({location!r})
        {textwrap.indent(textwrap.dedent(body), '        ').strip()}
        print("READY", flush=True)
        time.sleep(120)
    """)
    return subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _kill_when_ready(child: subprocess.Popen) -> list[str]:
    lines = []
    for line in child.stdout:
        lines.append(line.strip())
        if line.startswith("READY"):
            break
    else:  # pragma: no cover - the child failed before READY
        pytest.fail("the child died before READY: " + child.stderr.read())
    child.send_signal(signal.SIGKILL)
    child.wait(timeout=30)
    assert child.returncode == -signal.SIGKILL
    return lines


def _cli(location: str, *args: str) -> tuple[int, dict]:
    from contextlib import redirect_stdout
    from io import StringIO

    out = StringIO()
    with redirect_stdout(out):
        code = main(["ledger", *args, "--ledger", location, "--json"])
    return code, (json.loads(out.getvalue()) if out.getvalue().strip() else {})


@pytest.mark.integration
def test_sigkill_between_reserve_and_commit_leaves_a_refundable_reservation(ledger_location):
    PrivacyLedger(ledger_location).set_budget("d", epsilon=2.0, delta=1e-4, composition="basic")
    child = _child(ledger_location, """
        r = ledger.reserve(dataset="d", run_key="crashing-run", epsilon=1.5, delta=1e-6, **%r)
        print(r.event_id, flush=True)
    """ % GAUSS)
    event_id = _kill_when_ready(child)[0]

    ledger = PrivacyLedger(ledger_location)
    assert ledger.spend("d").basic_epsilon == 1.5  # a reservation counts as spent until refunded
    with pytest.raises(BudgetExceededError):
        ledger.reserve(dataset="d", run_key="next", epsilon=1.0, delta=1e-6, **GAUSS)
    code, pending = _cli(ledger_location, "pending", "d")
    assert code == 0 and [e["event_id"] for e in pending["reserved"]] == [event_id]
    code, refunded = _cli(ledger_location, "refund", event_id, "--note", "run died before DP computation")
    assert code == 0 and refunded["refunded"]["status"] == "refunded"
    assert ledger.spend("d").basic_epsilon == 0
    assert ledger.reserve(dataset="d", run_key="next", epsilon=1.0, delta=1e-6, **GAUSS).status == "reserved"


@pytest.mark.integration
def test_sigkill_after_commit_counts_as_spent_and_cannot_be_refunded(ledger_location, capsys):
    PrivacyLedger(ledger_location).set_budget("d", epsilon=2.0, delta=1e-4, composition="basic")
    child = _child(ledger_location, """
        r = ledger.reserve(dataset="d", run_key="crashing-run", epsilon=1.5, delta=1e-6, **%r)
        ledger.commit(r.event_id, note="DP computation started")
        print(r.event_id, flush=True)
    """ % GAUSS)
    event_id = _kill_when_ready(child)[0]

    ledger = PrivacyLedger(ledger_location)
    assert [e["status"] for e in ledger.history("d")] == ["committed"]
    assert ledger.spend("d").basic_epsilon == 1.5
    code, _ = _cli(ledger_location, "refund", event_id, "--note", "trying")
    assert code == 2 and "is committed; cannot mark it refunded" in capsys.readouterr().err
    assert ledger.spend("d").basic_epsilon == 1.5


@pytest.mark.integration
def test_sigkill_inside_a_transaction_leaves_nothing_half_written(ledger_location):
    """The process dies after inserting a charge, before its transaction commits: the charge is gone,
    and the lock (file or database) is free for the next run."""
    PrivacyLedger(ledger_location).set_budget("d", epsilon=2.0, delta=1e-4, composition="basic")
    child = _child(ledger_location, """
        def work(con):
            con.execute("INSERT INTO charges (event_id, seq, dataset, run_key, mechanism, params, epsilon, delta, "
                        "accountant, created_at) VALUES ('half', nextval('ledger_seq'), 'd', 'r', 'gaussian', "
                        "'{}', 1.5, 1e-6, 'rdp', now())")
            print("READY", flush=True)
            time.sleep(120)
        ledger.store.run(work, lock_key="d")
    """)
    _kill_when_ready(child)
    ledger = PrivacyLedger(ledger_location, lock_timeout_s=20)
    assert ledger.store.run(lambda con: con.execute("SELECT count(*) FROM charges").fetchone()[0]) == 0
    assert ledger.reserve(dataset="d", run_key="next", epsilon=1.0, delta=1e-6, **GAUSS).status == "reserved"


def test_a_newer_ledger_schema_is_refused(ledger_location):
    ledger = PrivacyLedger(ledger_location)
    ledger.store.run(lambda con: con.execute("UPDATE ledger_meta SET value = '99' WHERE key = 'schema_version'"))
    with pytest.raises(LedgerError, match="newer synth_pipeline .*upgrade"):
        PrivacyLedger(ledger_location)


def test_foreign_tables_are_refused_before_anything_is_written(ledger_location):
    """A database that holds a table called ``charges`` of something else is not a ledger."""
    from synth_pipeline.privacy.ledger_stores import open_store

    store = open_store(ledger_location, lock_timeout_s=5)  # the location, without the ledger's tables
    store.run(lambda con: con.execute("CREATE TABLE charges (id INTEGER, amount INTEGER)"))
    with pytest.raises(LedgerError, match="only some of the ledger's tables"):
        PrivacyLedger(ledger_location)
    store.run(lambda con: [con.execute(f"CREATE TABLE {t} (id INTEGER)") for t in ("budgets", "transitions")])
    with pytest.raises(LedgerError, match="without the columns this version needs .*charges.event_id"):
        PrivacyLedger(ledger_location)
    tables = store.run(lambda con: con.execute(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema()").fetchall())
    assert sorted(t for (t,) in tables) == ["budgets", "charges", "transitions"]  # nothing was added


def test_a_ledger_from_before_the_schema_version_is_upgraded_in_place(tmp_path):
    """DuckDB ledgers written before 2026-12 have no ledger_meta nor window_days, and call a refund
    'released': they open, keep their events, and read as today's."""
    import duckdb

    path = tmp_path / "old.duckdb"
    con = duckdb.connect(str(path))
    con.execute("""
        CREATE SEQUENCE ledger_seq;
        CREATE TABLE budgets (seq BIGINT, dataset VARCHAR, epsilon DOUBLE, delta DOUBLE, composition VARCHAR,
            per_release_epsilon DOUBLE, set_at TIMESTAMP, note VARCHAR);
        CREATE TABLE charges (event_id VARCHAR PRIMARY KEY, seq BIGINT, dataset VARCHAR, run_key VARCHAR,
            partition_key VARCHAR, mechanism VARCHAR, params VARCHAR, epsilon DOUBLE, delta DOUBLE,
            accountant VARCHAR, created_at TIMESTAMP);
        CREATE TABLE transitions (seq BIGINT, event_id VARCHAR, status VARCHAR, changed_at TIMESTAMP, note VARCHAR);
        INSERT INTO budgets VALUES (nextval('ledger_seq'), 'd', 3.0, 1e-5, 'basic', NULL, now(), '');
        INSERT INTO charges VALUES ('e1', nextval('ledger_seq'), 'd', 'r1', NULL, 'gaussian',
            '{"noise_multiplier": 5.0}', 1.0, 1e-6, 'rdp', now());
        INSERT INTO transitions VALUES (nextval('ledger_seq'), 'e1', 'reserved', now(), '');
        INSERT INTO transitions VALUES (nextval('ledger_seq'), 'e1', 'released', now(), '');
        INSERT INTO charges VALUES ('e2', nextval('ledger_seq'), 'd', 'r2', NULL, 'gaussian',
            '{"noise_multiplier": 5.0}', 2.0, 1e-6, 'rdp', now());
        INSERT INTO transitions VALUES (nextval('ledger_seq'), 'e2', 'reserved', now(), '');
        INSERT INTO transitions VALUES (nextval('ledger_seq'), 'e2', 'committed', now(), '');
    """)
    con.close()
    ledger = PrivacyLedger(path)
    assert [(e["event_id"], e["status"]) for e in ledger.history("d")] == [("e1", "refunded"), ("e2", "committed")]
    assert ledger.spend("d").basic_epsilon == 2.0
    with pytest.raises(BudgetExceededError):
        ledger.reserve(dataset="d", run_key="r3", epsilon=1.5, delta=1e-6, **GAUSS)
    assert ledger.budget("d").window_days is None


def test_an_unreachable_database_is_a_clear_error_without_the_password(postgres_server):
    url = "postgresql://postgres:s3cret-pw@127.0.0.1:1/ledger"  # nothing listens on port 1
    with pytest.raises(LedgerUnavailableError) as caught:
        PrivacyLedger(url)
    message = str(caught.value)
    assert "cannot open the PostgreSQL ledger postgresql://postgres@127.0.0.1:1/ledger" in message
    assert "nothing was charged" in message and "s3cret-pw" not in message


@pytest.mark.parametrize("change", ["user", "database"])
def test_wrong_credentials_or_database_are_a_clear_error(postgres_server, change, capsys):
    url = postgres_server.url()
    url = (url.replace("postgresql://postgres@", "postgresql://no_such_role:s3cret-pw@") if change == "user"
           else url.rsplit("/", 1)[0] + "/no_such_db")
    with pytest.raises(LedgerUnavailableError, match="no_such_role|no_such_db") as caught:
        PrivacyLedger(url)
    assert "s3cret-pw" not in str(caught.value)
    assert main(["ledger", "show", "--ledger", url]) == 2
    err = capsys.readouterr().err
    assert "synth-pipeline ledger show: error: cannot open the PostgreSQL ledger" in err and "s3cret-pw" not in err


def test_the_cli_and_the_resource_reach_a_postgresql_ledger(postgres_server, monkeypatch):
    from synth_pipeline.defs.resources import LedgerResource

    url = postgres_server.new_database()
    code, result = _cli(url, "set-budget", "d", "--epsilon", "3", "--delta", "1e-5")
    assert code == 0 and result["budget"]["epsilon"] == 3.0
    assert LedgerResource(url=url).ledger().budget("d").epsilon == 3.0
    monkeypatch.setenv("SYNTH_PIPELINE_LEDGER", url)
    assert LedgerResource().location() == url
    assert LedgerResource().ledger().budget("d").epsilon == 3.0
    assert LedgerResource(path="x.duckdb", root="/tmp").location() == "/tmp/x.duckdb"  # an explicit path wins
    code, shown = _cli(url, "show")
    assert code == 0 and shown["ledger"] == url and shown["datasets"][0]["budget_epsilon"] == 3.0
    assert os.environ["SYNTH_PIPELINE_LEDGER"] == url


def test_a_writer_holding_the_dataset_gives_a_bounded_wait_and_writes_nothing(postgres_server):
    """The PostgreSQL analogue of the DuckDB file lock test: another run holds the dataset's queue."""
    import psycopg

    from synth_pipeline.privacy.ledger import LedgerBusyError

    url = postgres_server.new_database()
    ledger = PrivacyLedger(url, default_budget_epsilon=10, default_budget_delta=1e-5, lock_timeout_s=0.5)
    with psycopg.connect(url, autocommit=True) as holder:
        holder.execute("SELECT pg_advisory_lock(hashtextextended(%s, 0))", ["synth_pipeline.ledger:d"])
        with pytest.raises(LedgerBusyError, match="nothing was charged"):
            ledger.reserve(dataset="d", run_key="r", epsilon=1.0, delta=1e-7, **GAUSS)
        assert ledger.spend("d").events == 0  # readers do not queue
    assert ledger.history() == []
    assert ledger.reserve(dataset="d", run_key="r", epsilon=1.0, delta=1e-7, **GAUSS).status == "reserved"
