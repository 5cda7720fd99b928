"""A throwaway PostgreSQL server for tests and benchmarks: a real server, never a mock.

``initdb`` a cluster in a fresh temporary folder, start it on a free loopback port with trust
authentication, hand out one new database per test, and stop it with ``immediate`` at the
end. PostgreSQL refuses to run as root: when this process is root, the cluster belongs to,
and every server command runs as, the unprivileged ``postgres`` user (``POSTGRES_OS_USER``
to choose another). The binaries are found on PATH or under /usr/lib/postgresql/*/bin.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import uuid
from pathlib import Path


class PostgresUnavailable(RuntimeError):
    """No PostgreSQL server binaries here, or no unprivileged user to run them as."""


def _bin_dir() -> Path:
    found = shutil.which("initdb")
    if found:
        return Path(found).resolve().parent
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if candidates:
        return Path(candidates[-1]).parent
    raise PostgresUnavailable("no PostgreSQL server here (initdb not on PATH nor under /usr/lib/postgresql); "
                              "install PostgreSQL 15 (Debian: apt-get install postgresql)")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ThrowawayPostgres:
    def __init__(self):
        self.bin = _bin_dir()
        self.user = None
        if os.geteuid() == 0:
            name = os.environ.get("POSTGRES_OS_USER", "postgres")
            try:
                self.user = pwd.getpwnam(name)
            except KeyError:
                raise PostgresUnavailable(f"running as root and there is no user {name!r} to run PostgreSQL as; "
                                          "set POSTGRES_OS_USER to an unprivileged user") from None
        self.root = Path(tempfile.mkdtemp(prefix="synth-pg-"))
        self.port = _free_port()
        self.started = False

    def _run(self, *args: str) -> None:
        kwargs = {"user": self.user.pw_uid, "group": self.user.pw_gid, "extra_groups": []} if self.user else {}
        done = subprocess.run([str(self.bin / args[0]), *args[1:]], capture_output=True, text=True, **kwargs)
        if done.returncode != 0:
            raise PostgresUnavailable(f"{args[0]} failed ({done.returncode}): {done.stderr.strip()[-800:]}")

    def start(self) -> "ThrowawayPostgres":
        if self.user:
            os.chown(self.root, self.user.pw_uid, self.user.pw_gid)
        data = self.root / "data"
        self._run("initdb", "-D", str(data), "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync")
        options = (f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off "
                   "-c max_connections=200 -c shared_buffers=64MB")
        self._run("pg_ctl", "-D", str(data), "-o", options, "-l", str(self.root / "server.log"), "-w", "start")
        self.started = True
        return self

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def new_database(self) -> str:
        """A new empty database; its URL."""
        import psycopg

        name = "t_" + uuid.uuid4().hex[:12]
        with psycopg.connect(self.url(), autocommit=True) as con:
            con.execute(f"CREATE DATABASE {name}")
        return self.url(name)

    def stop(self) -> None:
        if self.started:
            try:
                self._run("pg_ctl", "-D", str(self.root / "data"), "-m", "immediate", "stop")
            except PostgresUnavailable:
                pass
            self.started = False
        shutil.rmtree(self.root, ignore_errors=True)
