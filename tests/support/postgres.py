"""A real, throw-away PostgreSQL 15 cluster on a free loopback port.

PostgreSQL refuses to run as root, so when the tests run as root every server command runs
as the ``postgres`` user (``runuser``) in a temporary directory owned by it. Authentication
is ``trust``: URLs still carry a password so tests can check it never leaks.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from .procs import LOOPBACK, children, free_port, port_open, require_binary

PG_BIN = Path("/usr/lib/postgresql/15/bin")
SUPERUSER = "postgres"
TEST_PASSWORD = "pg-s3cret-never-shown"  # trust auth ignores it; tests check it never leaks
_HINT = "install postgresql-15 (Debian: apt-get install postgresql-15)"


def _binary(name: str) -> str:
    path = PG_BIN / name
    return str(path) if path.exists() else require_binary(name, hint=_HINT)


class PostgresServer:
    """One cluster: ``start``/``stop`` it, create databases, build connection URLs."""

    def __init__(self, base: Path, port: int) -> None:
        self.base = base
        self.data = base / "data"
        self.port = port
        self.log_path = base / "postgres.log"
        self._pg_ctl = _binary("pg_ctl")
        self._as_postgres: list[str] = []
        if os.geteuid() == 0:
            self._as_postgres = [require_binary("runuser", hint="util-linux"), "-u", "postgres"]
            self._as_postgres.append("--")

    def _run(self, args: Sequence[str], *, timeout: float = 60.0) -> None:
        """Run a server command with its output in a file (a pipe would be held open by the
        daemonised postmaster); raise with that output if it fails."""
        out_path = self.base / "command.log"
        with open(out_path, "wb") as out:
            result = subprocess.run(
                [*self._as_postgres, *args],
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                timeout=timeout,
                check=False,
            )
        if result.returncode != 0:
            output = out_path.read_text(errors="replace")
            log = self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
            raise RuntimeError(f"{' '.join(args)} failed ({result.returncode}):\n{output}\n{log}")

    @classmethod
    def create(cls) -> PostgresServer:
        """initdb a new cluster in a fresh temporary directory (not started)."""
        initdb = _binary("initdb")
        base = Path(tempfile.mkdtemp(prefix="dockit-pg-"))
        server = cls(base, free_port())
        if server._as_postgres:
            shutil.chown(base, user="postgres", group="postgres")
        args = ["-D", str(server.data), "-A", "trust", "-U", SUPERUSER, "-E", "UTF8"]
        server._run([initdb, *args, "--locale=C.UTF-8", "--no-sync"])
        return server

    def running(self) -> bool:
        return port_open(self.port)

    def start(self) -> None:
        options = f"-k {self.base} -p {self.port} -h {LOOPBACK} -F"
        pg_ctl = [self._pg_ctl, "-D", str(self.data), "-o", options, "-l", str(self.log_path)]
        self._run([*pg_ctl, "-w", "-t", "60", "start"], timeout=90)

    def stop(self) -> None:
        self._run(
            [self._pg_ctl, "-D", str(self.data), "-m", "fast", "-w", "-t", "60", "stop"], timeout=90
        )

    def pids(self) -> list[int]:
        """The postmaster and every process it started (backends, writers), e.g. to pause
        the whole server with SIGSTOP."""
        postmaster = int((self.data / "postmaster.pid").read_text().split()[0])
        return [postmaster, *sorted(children(postmaster))]

    def url_for(self, dbname: str, *, password: str = TEST_PASSWORD) -> str:
        return f"postgresql://{SUPERUSER}:{password}@{LOOPBACK}:{self.port}/{dbname}"

    def _admin(self, statement: str) -> None:
        import psycopg2

        conn = psycopg2.connect(
            dbname="postgres", user=SUPERUSER, host=LOOPBACK, port=self.port, connect_timeout=10
        )
        try:
            conn.autocommit = True  # CREATE/DROP DATABASE cannot run in a transaction
            with conn.cursor() as cursor:
                cursor.execute(statement)
        finally:
            conn.close()

    def create_database(self, name: str | None = None, *, icu_locale: str | None = None) -> str:
        """Create a database (a unique ``t_<hex>`` name by default) and return its name.

        ``icu_locale`` (e.g. ``"en-US"``) gives it a linguistic collation like most production
        databases, where punctuation sorts differently from code point order.
        """
        name = name or f"t_{uuid.uuid4().hex}"
        if not name.replace("_", "").isalnum():
            raise ValueError(f"unsafe database name {name!r}")
        statement = f"CREATE DATABASE \"{name}\" TEMPLATE template0 ENCODING 'UTF8'"
        if icu_locale is not None:
            statement += f" LOCALE 'C.UTF-8' LOCALE_PROVIDER icu ICU_LOCALE '{icu_locale}'"
        self._admin(statement)
        return name

    def drop_database(self, name: str) -> None:
        self._admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def destroy(self) -> None:
        if self.running():
            self.stop()
        shutil.rmtree(self.base, ignore_errors=True)


@contextmanager
def postgres_cluster() -> Iterator[PostgresServer]:
    """A started cluster for the duration of the block; stopped and deleted afterwards."""
    server = PostgresServer.create()
    try:
        server.start()
        yield server
    finally:
        server.destroy()
